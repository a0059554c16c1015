"""What an outgoing SMS costs in the network's terms: its coding and its parts.

A phone receives GSM 03.38 7-bit text (160 characters in one SMS, 153 per part when
concatenated; €, [, ] and a few others take two) or, as soon as one character is outside that
alphabet (a curly apostrophe in "Jum’at", an emoji), UCS-2 (70 UTF-16 units, 67 per part; an
emoji takes two). Kannel splits a long text itself once told the coding; Gammu's outbox wants the
parts written out.
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsText:
    text: str
    unicode: bool  # UCS-2 (Kannel coding=2; Gammu Unicode_No_Compression)

    @classmethod
    def of(cls, text: str) -> SmsText:
        return cls(text, not fits_gsm(text))

    def parts(self) -> list[str]:
        """The text cut where a concatenated SMS cuts it (never inside a character)."""
        single, part = (UCS2_SINGLE, UCS2_PART) if self.unicode else (GSM_SINGLE, GSM_PART)
        if _units(self.text, self.unicode) <= single:
            return [self.text]
        parts, current, used = [], [], 0
        for char in self.text:
            size = _units(char, self.unicode)
            if used + size > part:
                parts.append("".join(current))
                current, used = [], 0
            current.append(char)
            used += size
        parts.append("".join(current))
        return parts


def fits_gsm(text: str) -> bool:
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return False
    return True


def _units(text: str, unicode: bool) -> int:
    """Septets (GSM) or UTF-16 code units (UCS-2) the text takes in an SMS."""
    return len(text.encode("utf-16-be")) // 2 if unicode else len(text.encode("gsm03.38"))
