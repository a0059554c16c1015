"""Phone numbers to E.164, with Google's libphonenumber rules (phonenumbers)."""

from __future__ import annotations

import re

import phonenumbers


def to_e164(raw: str, region: str = "ID") -> str | None:
    """`0812...`, `62812...`, `+62 812-...` -> `+62812...`; None when it is not a valid number."""
    candidate = raw.strip()
    # Gateways often drop the plus sign, and people type "62 812-3456-7890" without it too:
    # read as a national number that was "+62 62812..." (a number that cannot exist but parses).
    digits = re.sub(r"[\s.()-]", "", candidate)
    if digits.isascii() and digits.isdigit() and digits.startswith("62"):
        candidate = "+" + digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
