"""Possible duplicates: a new complaint close to one still open, for a person to merge or not.

Close means received within `WINDOW_DAYS` of each other and with similar words: a little alike when the same
reporter wrote both (a resend, a correction), somewhat alike in the same kelurahan (neighbours about the
same pothole), and much alike anywhere (a city-wide hoax). Words are compared as TF-IDF vectors of
character n-grams of the normalised text, so SMS shorthand, typos and Javanese endings still meet
("bolong"/"berlubang" do not: that is what the unit's one click is for). Pure: no I/O.

    python -m services.router.routing.duplicates tests/data/duplicate-pairs.jsonl

prints precision and recall on labelled pairs, on the half the thresholds were chosen on and on the other.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer

from services.router.routing.normalise import normalise
from services.router.routing.second_opinion import LABELLED_DIR
from services.router.routing.second_opinion import corpus as labelled_corpus

# Chosen on the even-numbered pairs of tests/data/duplicate-pairs.jsonl (2026-12-01).
WINDOW_DAYS = 5
SAME_REPORTER, SAME_KELURAHAN, ANYWHERE = 0.15, 0.2, 0.4


@dataclass(frozen=True)
class Sighting:
    """What the finder compares of a complaint."""

    complaint_id: str
    text: str
    received_at: datetime
    kelurahan: str | None = None
    contact_digests: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PossibleDuplicate:
    of: Sighting
    similarity: float
    reason: str  # "same reporter", "same kelurahan" or "similar words"


class DuplicateFinder:
    def __init__(self, corpus: list[str] | None = None) -> None:
        if corpus is None:
            corpus = [case["text"] for case in labelled_corpus()]
        if not corpus:  # a package built without its data files: say so rather than "empty vocabulary"
            raise ValueError(f"no labelled complaints in {LABELLED_DIR} to weigh words by")
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self.vectorizer.fit([normalise(text) for text in corpus])

    def similarity(self, a: str, b: str) -> float:
        vectors = self.vectorizer.transform([normalise(a), normalise(b)])
        return float((vectors[0] @ vectors[1].T).toarray()[0, 0])  # rows are unit length: the cosine

    def check(self, new: Sighting, old: Sighting, similarity: float | None = None) -> PossibleDuplicate | None:
        """Whether `new` may repeat `old` (`similarity`: their texts', when already known)."""
        if new.complaint_id == old.complaint_id:
            return None
        if abs((new.received_at - old.received_at).total_seconds()) > WINDOW_DAYS * 86400:
            return None
        if similarity is None:
            similarity = self.similarity(new.text, old.text)
        if new.contact_digests & old.contact_digests and similarity >= SAME_REPORTER:
            return PossibleDuplicate(old, similarity, "same reporter")
        if new.kelurahan and new.kelurahan == old.kelurahan and similarity >= SAME_KELURAHAN:
            return PossibleDuplicate(old, similarity, "same kelurahan")
        if similarity >= ANYWHERE:
            return PossibleDuplicate(old, similarity, "similar words")
        return None

    def find_all(self, new: list[Sighting], open_ones: list[Sighting], limit: int = 3,
                 ) -> dict[str, list[PossibleDuplicate]]:
        """For each new complaint, the open ones received before it that it may repeat, most alike first.
        Every text is read once: one matrix product instead of a comparison per pair."""
        if not new or not open_ones:
            return {}
        vectors = self.vectorizer.transform([normalise(s.text) for s in new + open_ones])
        similarities = (vectors[:len(new)] @ vectors[len(new):].T).toarray()
        found: dict[str, list[PossibleDuplicate]] = {}
        for i, sighting in enumerate(new):
            hits = [hit for j, old in enumerate(open_ones) if old.received_at <= sighting.received_at
                    and (hit := self.check(sighting, old, float(similarities[i, j]))) is not None]
            if hits:
                found[sighting.complaint_id] = sorted(hits, key=lambda hit: -hit.similarity)[:limit]
        return found


def _sighting(side: dict[str, Any], name: str) -> Sighting:
    return Sighting(name, side["text"], datetime.fromisoformat(side["received_at"]), side.get("kelurahan"),
                    frozenset({side["reporter"]}) if side.get("reporter") else frozenset())


def precision_recall(finder: DuplicateFinder, pairs: list[dict[str, Any]]) -> tuple[float, float, int]:
    said = [finder.check(_sighting(p["b"], "b"), _sighting(p["a"], "a")) is not None for p in pairs]
    hits = sum(s and p["duplicate"] for s, p in zip(said, pairs, strict=True))
    precision = hits / sum(said) if any(said) else 0.0
    recall = hits / sum(p["duplicate"] for p in pairs) if any(p["duplicate"] for p in pairs) else 0.0
    return precision, recall, len(pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help='JSON lines: {"a": {...}, "b": {...}, "duplicate": true|false}')
    pairs = [json.loads(line) for line in parser.parse_args(argv).file.read_text().splitlines() if line.strip()]
    finder = DuplicateFinder()
    for name, part in (("thresholds chosen on (even pairs)", pairs[::2]), ("held out (odd pairs)", pairs[1::2]),
                       ("all", pairs)):
        precision, recall, count = precision_recall(finder, part)
        print(f"{name:36} {count:3} pairs  precision={precision:.3f} recall={recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
