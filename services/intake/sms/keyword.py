"""The SMS formats: `SURGA <isi aduan>`, `SURGA CEK <kode lacak>` and `SURGA BALAS <kode lacak> <isi>`,
matched leniently."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.contracts import normalise_tracking_code

# "SURGA x", "surga: x", "Surga. x", "SURGA  x": case, punctuation and spacing do not matter.
# "SURGA_x" too: "_" is a word character to \b, but not a letter that makes "surga" another word.
_KEYWORD = re.compile(r"^\s*surga(?![^\W_])[\s\W_]*", re.IGNORECASE)

FORMAT_HELP = ("Format aduan SMS: SURGA <isi aduan>, contoh: SURGA lampu jalan di Jl. Dhoho mati. "
               "Rahasiakan identitas: SURGA RAHASIA <isi aduan>.")


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


# "BALAS K7M2Q-9XD4T lampu masih mati", "balas: k7m2q 9xd4t ...": the citizen answers the unit's response.
_REPLY = re.compile(r"^balas(?![^\W_])[\s\W_]*", re.IGNORECASE)
# The code as typed: 10 characters, with a dash or a space in the middle or none, then the text.
_LEADING_CODE = re.compile(r"^([0-9A-Za-z]{5})[\s-]?([0-9A-Za-z]{4,6})(?![0-9A-Za-z])[\s\W_]*")

REPLY_HELP = ("Format balasan SMS: SURGA BALAS <kode lacak> <isi balasan>. "
              "Contoh: SURGA BALAS ABCDE-12345 lampu masih mati.")


@dataclass(frozen=True)
class ReplyToResponse:
    typed: str  # the code as typed
    code: str | None  # the tracking code it reads as, or None when it cannot be one
    text: str  # the reply itself; empty when only the code was sent

    @property
    def may_be_words(self) -> bool:
        """A code of letters only reads like words too ("balas kasih warga ..." holds KAS1H-WARGA): when
        no complaint has it, the SMS is taken as the complaint it more likely is."""
        return not any(ch.isdigit() for ch in self.typed)


def reply_to_response(complaint: str) -> ReplyToResponse | None:
    """For the text after the keyword: the reply it sends, or None when it is a complaint
    ("balas budi ..." has no code after it)."""
    match = _REPLY.match(complaint)
    if not match:
        return None
    rest = complaint[match.end():]
    code = _LEADING_CODE.match(rest)
    if not rest.strip():
        return ReplyToResponse("", None, "")
    if code is None:
        return None
    typed = code.group(1) + code.group(2)
    tracking_code = normalise_tracking_code(typed)
    if tracking_code is None and not _CODE_LIKE.fullmatch(typed):
        return None
    return ReplyToResponse(typed, tracking_code, rest[code.end():].strip())
