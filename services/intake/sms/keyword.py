"""The SMS formats: `SURGA <isi aduan>` and `SURGA CEK <kode lacak>`, matched leniently."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.contracts import normalise_tracking_code

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


# "CEK K7M2Q-9XD4T", "cek: k7m2q 9xd4t", "Cek K7M2Q9XD4T"; "cekat ..." is a word, not the command.
_CHECK = re.compile(r"^cek(?![^\W_])[\s\W_]*", re.IGNORECASE)
# A code mistyped (a character too many or too few) is still a status check, answered "not found",
# rather than a complaint "CEK K7M2Q9XD4"; a digit tells it from words such as "lampu mati".
_CODE_LIKE = re.compile(r"(?=.*[0-9])[0-9A-Za-z]{8,12}")

CHECK_HELP = "Format cek status SMS: SURGA CEK <kode lacak>. Contoh: SURGA CEK ABCDE-12345."


@dataclass(frozen=True)
class StatusCheck:
    typed: str  # what followed "CEK"
    code: str | None  # the tracking code it reads as, or None when it cannot be one


def status_check(complaint: str) -> StatusCheck | None:
    """For the text after the keyword: the status check it asks for, or None when it is a complaint."""
    match = _CHECK.match(complaint)
    if not match:
        return None
    typed = complaint[match.end():].strip()
    code = normalise_tracking_code(typed)
    if code or not typed or _CODE_LIKE.fullmatch(re.sub(r"[\s-]", "", typed)):
        return StatusCheck(typed, code)
    return None
