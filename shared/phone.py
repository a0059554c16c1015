"""Phone numbers to E.164, with Google's libphonenumber rules (phonenumbers)."""

from __future__ import annotations

import re

import phonenumbers

E164 = re.compile(r"\+[1-9]\d{1,14}")


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
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # A run of zeros ("000000000000000") is a "possible" number whose national part keeps its leading
    # zeros: 16 digits, or one that reads back as another number. Only what reads back as itself.
    if not E164.fullmatch(e164) or phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.E164) != e164:
        return None
    return e164
