"""`RAHASIA` / `ANONIM` before a complaint on a phone channel: the reporter's choice, as the web form's.

SP4N-LAPOR!'s two options: anonim (the report may be public, the identity hidden) and rahasia (neither
public nor identified). By SMS: `SURGA RAHASIA <aduan>`, `SURGA ANONIM <aduan>`; on WhatsApp the same
words, with or without SURGA. Matched as leniently as the keyword itself: any case, punctuation or
spacing ("surga: rahasia, ..."), and the spellings people use (anonym, anonymous).
"""

from __future__ import annotations

import re

from shared.contracts import Anonymity

# The word must stand alone: "rahasiakan" and "anonimitas" are words of a complaint, not the choice.
_CHOICE = re.compile(r"^\s*(?:surga(?![^\W_])[\s\W_]*)?(rahasia|anonim|anonym|anonymous)(?![^\W_])[\s\W_]*",
                     re.IGNORECASE)


def anonymity_choice(text: str) -> tuple[Anonymity, str]:
    """The anonymity asked for at the start of `text` and the complaint after it; NONE and `text` unchanged
    when none is asked for."""
    match = _CHOICE.match(text)
    if not match:
        return Anonymity.NONE, text
    chosen = Anonymity.RAHASIA if match.group(1).lower() == "rahasia" else Anonymity.ANONIM
    return chosen, text[match.end():]
