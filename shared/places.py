"""Where in Kota Kediri: the 46 kelurahan and their 3 kecamatan (shared/kelurahan.yaml), and recognising one
named in a citizen's free text ("jalan rusak di kel. Setonopande", "lampu mati dkt psr Burengan")."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml

from shared.contracts import Place

PLACES_FILE = Path(__file__).parent / "kelurahan.yaml"
# Words that announce a kelurahan or kecamatan, as citizens type them.
_KELURAHAN_MARKERS = {"kelurahan", "kel", "kelurahn", "klurahan", "desa", "ds", "kalurahan"}
_KECAMATAN_MARKERS = {"kecamatan", "kec", "kecamatn", "kcmtn"}
_WORD = re.compile(r"[a-z0-9]+")


def _key(name: str) -> str:
    return name.lower().replace(" ", "")


@functools.cache
def _data() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8"))
    return loaded


def areas() -> dict[str, list[str]]:
    """kecamatan -> its kelurahan, in the file's order (for the web form's select)."""
    return {kecamatan: list(kelurahan) for kecamatan, kelurahan in _data()["kecamatan"].items()}


@functools.cache
def _index() -> tuple[dict[str, tuple[str, str]], dict[str, str], frozenset[str]]:
    kelurahan = {_key(k): (k, kecamatan) for kecamatan, names in areas().items() for k in names}
    kecamatan = {_key(k): k for k in areas()}
    return kelurahan, kecamatan, frozenset(_key(w) for w in _data()["ordinary_words"])


def place_of(kelurahan: str | None, street: str | None = None) -> Place | None:
    """The place for a kelurahan chosen from our list (the web form); None if it is not one of ours."""
    known, _, _ = _index()
    found = known.get(_key(kelurahan or ""))
    street = (street or "").strip() or None
    if found is None:
        return Place(street=street) if street else None
    return Place(kelurahan=found[0], kecamatan=found[1], street=street)


def complete(place: Place | None, text: str) -> Place | None:
    """The citizen's place, with the kelurahan their text names when they chose none (SMS, WhatsApp, a web
    form left at "tidak tahu")."""
    if place is not None and place.kelurahan:
        return place
    named = recognise(text)
    if named is None:
        return place
    return named.model_copy(update={"street": place.street}) if place is not None else named


def recognise(text: str) -> Place | None:
    """The kelurahan (and so its kecamatan) a text names, else a kecamatan it names, else None.

    A name counts as one word or two joined ("setono gedong" = "setonogedong"); one that is also an
    everyday word counts only after a marker ("kelurahan", "kel.", "desa"). Two different kelurahan
    named without a marker for either: None, rather than a guess."""
    kelurahan, kecamatan, ordinary = _index()
    words = _WORD.findall(text.lower())
    marked: list[tuple[str, str]] = []
    unmarked: set[tuple[str, str]] = set()
    district: str | None = None
    for i, word in enumerate(words):
        previous = words[i - 1] if i else ""
        joined = word + words[i + 1] if i + 1 < len(words) else ""
        for candidate in (joined, word):
            if previous in _KECAMATAN_MARKERS and candidate in kecamatan:
                district = district or kecamatan[candidate]
                break
            if candidate in kelurahan:
                if previous in _KELURAHAN_MARKERS:
                    marked.append(kelurahan[candidate])
                elif candidate not in ordinary:
                    unmarked.add(kelurahan[candidate])
                break
    found = marked[0] if marked else unmarked.pop() if len(unmarked) == 1 else None
    if found and district in (None, found[1]):
        return Place(kelurahan=found[0], kecamatan=found[1])
    return Place(kecamatan=district) if district else None
