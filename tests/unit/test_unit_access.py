"""Signed inbox credentials (shared/unit_access.py): links in unit mail, sessions, CSRF tokens."""

from __future__ import annotations

import time

import pytest

from shared import unit_access

SECRET = "s3cret-for-tests"


def test_a_token_verifies_for_its_purpose_until_it_expires():
    token = unit_access.issue(SECRET, unit_access.LINK, "bppkad", "ABCDE-12345", 60)
    grant = unit_access.verify(SECRET, unit_access.LINK, token)
    assert (grant.unit, grant.subject) == ("bppkad", "ABCDE-12345")
    assert unit_access.verify(SECRET, unit_access.SESSION, token) is None  # purposes are signed apart
    assert unit_access.verify("other", unit_access.LINK, token) is None
    assert unit_access.verify(SECRET, unit_access.LINK, token, now=time.time() + 61) is None
    assert unit_access.verify("", unit_access.LINK, token) is None  # no secret: nothing verifies


@pytest.mark.parametrize("change", [lambda p: ["hukum", *p[1:]], lambda p: [p[0], "XXXXX-XXXXX", *p[2:]],
                                    lambda p: [*p[:2], str(int(p[2]) + 1), *p[3:]], lambda p: [*p[:4], p[4][::-1]],
                                    lambda p: [*p[:3], "0" * 16, p[4]], lambda p: [*p[:3], p[4]],
                                    lambda p: p[:3], lambda p: [*p[:2], "soon", *p[3:]]])
def test_any_change_to_a_token_makes_it_worthless(change):
    parts = unit_access.issue(SECRET, unit_access.LINK, "bppkad", "ABCDE-12345", 60).split(".")
    assert unit_access.verify(SECRET, unit_access.LINK, ".".join(change(parts))) is None


def test_links_issued_in_the_same_second_are_each_their_own(monkeypatch):
    """Single-use links: two mails about one complaint in one second had the same link, and the unit that
    opened one found the other spent."""
    monkeypatch.setattr(unit_access.time, "time", lambda: 1_800_000_000.5)  # one second, whatever the machine's pace
    first, second = (unit_access.issue(SECRET, unit_access.LINK, "bppkad", "ABCDE-12345", 60) for _ in range(2))
    assert first.split(".")[2] == second.split(".")[2] and first != second
    grant = unit_access.Grant("bppkad", "ABCDE-12345", 1_800_000_060)
    assert [unit_access.verify(SECRET, unit_access.LINK, token) for token in (first, second)] == [grant, grant]


def test_links_of_before_the_nonce_are_read_until_they_expire():
    expires = int(time.time()) + 60
    signature = unit_access._sign(SECRET, unit_access.LINK, "bppkad", "ABCDE-12345", expires, "")  # noqa: SLF001
    legacy = f"bppkad.ABCDE-12345.{expires}.{signature}"
    assert unit_access.verify(SECRET, unit_access.LINK, legacy) == unit_access.Grant("bppkad", "ABCDE-12345", expires)


def test_issuing_without_a_secret_is_refused():
    with pytest.raises(ValueError):
        unit_access.issue("", unit_access.SESSION, "bppkad", "inbox", 60)


def test_csrf_token_is_bound_to_its_session():
    a, b = (unit_access.issue(SECRET, unit_access.SESSION, unit, "inbox", 60) for unit in ("bppkad", "hukum"))
    assert unit_access.csrf_token(SECRET, a) != unit_access.csrf_token(SECRET, b)
    assert unit_access.csrf_token(SECRET, a) != unit_access.csrf_token("another-secret", a)  # made only with the key
