"""The duplicate finder on its own: window, direction, the three kinds of closeness, and its measure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.router.routing.duplicates import DuplicateFinder, Sighting, precision_recall

PAIRS = Path(__file__).resolve().parents[1] / "data" / "duplicate-pairs.jsonl"
T0 = datetime(2026, 11, 10, 8, tzinfo=UTC)
HOTSPOT = "hotspot gratis di balai kelurahan tidak ada internet sejak senin"


@pytest.fixture(scope="module")
def finder() -> DuplicateFinder:
    return DuplicateFinder()


def sighting(name: str, text: str, days: float = 0, kelurahan: str | None = None, who: str = "") -> Sighting:
    return Sighting(name, text, T0 + timedelta(days=days), kelurahan, frozenset({who}) if who else frozenset())


def test_only_earlier_complaints_within_the_window_are_linked(finder):
    old, same_day, late = sighting("old", HOTSPOT), sighting("new", HOTSPOT, 1), sighting("later", HOTSPOT, 2)
    found = finder.find_all([same_day], [old, same_day, late])
    assert [hit.of.complaint_id for hit in found["new"]] == ["old"]  # never itself, never a later one
    assert finder.find_all([sighting("far", HOTSPOT, 6)], [old]) == {}  # outside the window


def test_a_weak_likeness_counts_for_the_same_reporter_or_kelurahan_only(finder):
    a = "wifi balai kelurahan mati dari senin"
    b = "internet di balai kelurahan tidak nyambung sejak kemarin sore"
    similarity = finder.similarity(a, b)
    assert 0.2 <= similarity < 0.4  # alike, not very
    assert finder.check(sighting("b", b, 1), sighting("a", a)) is None
    assert finder.check(sighting("b", b, 1, "Bujel"), sighting("a", a, 0, "Semampir")) is None
    assert finder.check(sighting("b", b, 1, who="r1"), sighting("a", a, who="r1")).reason == "same reporter"
    assert finder.check(sighting("b", b, 1, "Semampir"), sighting("a", a, 0, "Semampir")).reason == "same kelurahan"


def test_on_the_labelled_pairs_it_finds_most_duplicates_and_says_so_when_measured(finder):
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    precision, recall, count = precision_recall(finder, pairs[1::2])  # the half no threshold was chosen on
    assert count == 40 and recall >= 0.8 and precision >= 0.5
