"""The SMS complaint format: `SURGA <isi aduan>`, matched leniently."""

from __future__ import annotations

import re

# "SURGA x", "surga: x", "Surga. x", "SURGA  x": case, punctuation and spacing do not matter.
# "SURGA_x" too: "_" is a word character to \b, but not a letter that makes "surga" another word.
_KEYWORD = re.compile(r"^\s*surga(?![^\W_])[\s\W_]*", re.IGNORECASE)

FORMAT_HELP = "Format aduan SMS: SURGA <isi aduan>. Contoh: SURGA lampu jalan di Jl. Dhoho mati."


def complaint_text(sms_text: str) -> str | None:
    """The complaint after the keyword, or None when the SMS is not a complaint."""
    match = _KEYWORD.match(sms_text)
    if not match:
        return None
    text = sms_text[match.end():].strip()
    return text or None
