"""Phone numbers to E.164, with Google's libphonenumber rules (phonenumbers)."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str, region: str = "ID") -> str | None:
    """`0812...`, `62812...`, `+62 812-...` -> `+62812...`; None when it is not a valid number."""
    candidate = raw.strip()
    if candidate.isdigit() and candidate.startswith("62"):
        candidate = "+" + candidate  # gateways often drop the plus sign
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
