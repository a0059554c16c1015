"""Properties of identifiers and small parsers: complaint ids, tracking codes, phone numbers,
working days, signatures and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import phonenumbers
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from services.intake.sms.generic import MAX_CLOCK_SKEW_SECONDS, authenticated
from services.intake.web import csrf
from services.router.lifecycle.working_days import WIB, WorkingCalendar
from shared import unit_access
from shared.channel_kit import signature_is_valid
from shared.contracts import (
    COMPLAINT_NAMESPACE,
    TRACKING_CODE_LENGTH,
    complaint_id_for,
    normalise_tracking_code,
    tracking_code_for,
)
from shared.phone import to_e164
from tests.support.properties import written_phone

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")
channel_names = st.from_regex(r"\A[a-z][a-z0-9_]{1,30}\Z")
message_ids = st.text(max_size=200)

# ------------------------------------------------------------------------------------------ complaint ids


@given(channel_names, message_ids)
def test_complaint_id_is_a_deterministic_uuid5(channel, message_id):
    complaint_id = complaint_id_for(channel, message_id)
    parsed = uuid.UUID(complaint_id)
    assert parsed.version == 5 and str(parsed) == complaint_id
    assert complaint_id == complaint_id_for(channel, message_id)
    assert complaint_id == str(uuid.uuid5(COMPLAINT_NAMESPACE, f"{channel}:{message_id}"))


@given(channel_names, message_ids, channel_names, message_ids)
def test_different_messages_are_different_complaints(channel_a, id_a, channel_b, id_b):
    # A channel name has no ":", so "sms" + "a:b" can never collide with another pair.
    assume((channel_a, id_a) != (channel_b, id_b))
    assert complaint_id_for(channel_a, id_a) != complaint_id_for(channel_b, id_b)


@given(st.text(max_size=40), message_ids)
def test_anything_but_a_channel_name_is_refused(channel, message_id):
    assume(not re.fullmatch(r"[a-z][a-z0-9_]{1,30}", channel))
    with pytest.raises(ValueError):
        complaint_id_for(channel, message_id)


# ------------------------------------------------------------------------------------------ tracking codes

complaint_ids = st.uuids().map(str)


def _typed(code: str, draw_case: list[bool], gaps: list[str]) -> str:
    """The code as a citizen might type it: any case, any spacing, O for 0, I or L for 1."""
    chars = []
    for index, ch in enumerate(code.replace("-", "")):
        if ch == "0" and draw_case[index % len(draw_case)]:
            ch = "O"
        elif ch == "1" and draw_case[index % len(draw_case)]:
            ch = "I" if index % 2 else "L"
        ch = ch.lower() if draw_case[(index + 1) % len(draw_case)] else ch
        chars.append(ch + gaps[index % len(gaps)])
    return "".join(chars)


@given(complaint_ids)
def test_tracking_code_is_ten_crockford_characters_and_normal(complaint_id):
    code = tracking_code_for(complaint_id)
    assert CODE.match(code)
    assert normalise_tracking_code(code) == code
    assert tracking_code_for(complaint_id) == code


@given(complaint_ids, st.lists(st.booleans(), min_size=1, max_size=10),
       st.lists(st.sampled_from(["", "", " ", "-", "  ", "\t"]), min_size=1, max_size=10),
       st.sampled_from(["", " ", "\n"]))
def test_tracking_code_typed_any_way_finds_the_same_code(complaint_id, cases, gaps, padding):
    code = tracking_code_for(complaint_id)
    typed = padding + _typed(code, cases, gaps) + padding
    assert normalise_tracking_code(typed) == code


@given(complaint_ids, st.integers(min_value=1, max_value=5), st.booleans())
def test_tracking_code_of_the_wrong_length_is_refused(complaint_id, by, longer):
    compact = tracking_code_for(complaint_id).replace("-", "")
    typed = compact + compact[:by] if longer else compact[:-by]
    assert normalise_tracking_code(typed) is None


@given(st.text(max_size=30))
def test_normalise_tracking_code_never_crashes_and_returns_a_canonical_code(typed):
    code = normalise_tracking_code(typed)
    assert code is None or (CODE.match(code) and normalise_tracking_code(code) == code)


@given(st.text(CROCKFORD + "OILoil", min_size=TRACKING_CODE_LENGTH, max_size=TRACKING_CODE_LENGTH))
def test_any_ten_code_characters_are_a_code(typed):
    assert CODE.match(normalise_tracking_code(typed) or "")


# ------------------------------------------------------------------------------------------ phone numbers


@given(st.text(max_size=40))
@example("+" + "9" * 300)
@example("000000000000000")  # once "+6200000000000000": 16 digits
@example("0000000000000")  # once "+62000000000000", which read back as "+6200000000000"
def test_to_e164_never_crashes_and_gives_a_parseable_e164_number(raw):
    e164 = to_e164(raw)
    if e164 is not None:
        assert re.fullmatch(r"\+[1-9]\d{1,14}", e164)
        assert phonenumbers.is_possible_number(phonenumbers.parse(e164))
        assert to_e164(e164) == e164  # idempotent


@given(written_phone())
def test_indonesian_numbers_however_written_are_the_same_e164(phone):
    written, e164 = phone
    assert to_e164(written) == e164
    assert to_e164(f"  {written}\n") == e164


# ------------------------------------------------------------------------------------------ working days

CALENDAR = WorkingCalendar(collective_leave=[date(2026, 3, 18), date(2026, 3, 19), date(2026, 12, 24)])
starts = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))
days = st.integers(min_value=1, max_value=40)


@given(starts, days)
def test_a_deadline_is_a_working_day_after_the_start(start, count):
    due = CALENDAR.add_working_days(start, count)
    local_start = start.astimezone(WIB).date()
    assert due > local_start
    assert CALENDAR.is_working_day(due)
    # Exactly `count` working days in (start, due]: none skipped, none counted twice.
    span = [local_start + timedelta(days=n) for n in range(1, (due - local_start).days + 1)]
    assert sum(map(CALENDAR.is_working_day, span)) == count
    # Never fewer calendar days than working days, and not absurdly many more (a long holiday
    # season is about two weeks).
    assert count <= (due - local_start).days <= count * 3 + 16


@given(starts, days, days)
def test_deadlines_are_monotone_in_days(start, a, b):
    assume(a != b)
    low, high = sorted((a, b))
    assert CALENDAR.add_working_days(start, low) < CALENDAR.add_working_days(start, high)


@given(starts, starts, days)
def test_deadlines_are_monotone_in_the_start(a, b, count):
    early, late = sorted((a, b))
    assert CALENDAR.add_working_days(early, count) <= CALENDAR.add_working_days(late, count)


@given(starts)
def test_zero_days_is_the_start_day(start):
    assert CALENDAR.add_working_days(start, 0) == start.astimezone(WIB).date()


# ------------------------------------------------------------------------------------------ signatures

# No NUL: HMAC pads short keys with zero bytes, so "k" and "k\0" are the same key by design.
secrets_ = st.text(st.characters(min_codepoint=1, exclude_categories=("Cs",)), min_size=1, max_size=40)
payloads = st.binary(max_size=300)


def _sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


@given(secrets_, payloads, st.sampled_from(["", " ", "\n"]), st.booleans())
def test_a_correct_signature_is_valid_in_either_case(secret, payload, trailing, upper):
    digest = _sign(secret, payload)
    assert signature_is_valid(secret, payload, f"sha256={digest.upper() if upper else digest}{trailing}")


@given(secrets_, payloads, payloads)
def test_a_signature_of_another_payload_is_invalid(secret, payload, other):
    assume(payload != other)
    assert not signature_is_valid(secret, other, f"sha256={_sign(secret, payload)}")


@given(secrets_, secrets_, payloads)
def test_a_signature_with_another_secret_is_invalid(secret, other, payload):
    assume(secret.encode() != other.encode())
    assert not signature_is_valid(secret, payload, f"sha256={_sign(other, payload)}")


@given(st.text(max_size=20), payloads, st.one_of(st.none(), st.text(max_size=100)))
@example("s", b"", "sha256=\u00e9")  # a header byte outside ASCII (Starlette decodes headers as latin-1)
def test_signature_check_never_crashes_on_any_header(secret, payload, header):
    assert signature_is_valid(secret, payload, header) in (True, False)


@given(st.dictionaries(st.sampled_from(["x-signature", "x-timestamp", "x-gateway-secret", "other"]),
                       st.text(st.characters(max_codepoint=255), max_size=80)), payloads)
@example({"x-signature": "sha256=00", "x-timestamp": "\u00b2"}, b"")  # "²".isdigit() but not int()
@example({"x-signature": "sha256=00", "x-timestamp": "9" * 5000}, b"")  # past int()'s digit limit
def test_generic_webhook_authentication_never_crashes(headers, body):
    # Header values are latin-1 text, as Starlette gives them.
    assert authenticated("secret", body, headers) in (None, "stale_or_missing_timestamp", "bad_signature",
                                                      "bad_secret", "missing_signature")


@given(payloads, st.integers(min_value=-MAX_CLOCK_SKEW_SECONDS, max_value=MAX_CLOCK_SKEW_SECONDS))
def test_generic_webhook_accepts_its_own_signature_within_the_clock_skew(body, skew):
    timestamp = str(int(time.time()) + skew + (5 if skew < 0 else -5))  # inside the window, with slack
    signature = f"sha256={_sign('secret', timestamp.encode() + b'.' + body)}"
    assert authenticated("secret", body, {"x-signature": signature, "x-timestamp": timestamp}) is None
    assert authenticated("secret", body + b"x", {"x-signature": signature, "x-timestamp": timestamp}) == \
        "bad_signature"


@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=80)), st.one_of(st.none(), st.text(max_size=80)))
def test_csrf_check_never_crashes_and_refuses_what_it_did_not_sign(secret, cookie, field):
    assume(secret)
    valid = csrf.is_valid(secret, cookie, field)
    assert not valid or (cookie == field and cookie.partition(".")[2])


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_csrf_tokens_are_valid_only_under_their_own_secret(secret, other):
    token = csrf.new_token(secret)
    assert csrf.is_valid(secret, token, token)
    assert not csrf.is_valid(secret, token, token + "x")
    if other != secret:
        assert not csrf.is_valid(other, token, token)



# ------------------------------------------------------------------------------------------ unit inbox tokens

unit_codes = st.from_regex(r"\A[a-z][a-z0-9-]{0,20}\Z")
purposes = st.sampled_from([unit_access.LINK, unit_access.SESSION])


@given(secrets_, purposes, unit_codes, complaint_ids.map(tracking_code_for), st.integers(min_value=60, max_value=10**7))
def test_an_issued_token_verifies_for_its_purpose_until_it_expires(secret, purpose, unit, subject, ttl):
    token = unit_access.issue(secret, purpose, unit, subject, ttl)
    grant = unit_access.verify(secret, purpose, token)
    assert grant is not None and (grant.unit, grant.subject) == (unit, subject)
    other = unit_access.SESSION if purpose == unit_access.LINK else unit_access.LINK
    assert unit_access.verify(secret, other, token) is None  # a link is not a session, nor the reverse
    assert unit_access.verify(secret + "x", purpose, token) is None
    assert unit_access.verify(secret, purpose, token, now=grant.expires_at + 1) is None


@given(secrets_, purposes, unit_codes, st.integers(min_value=60, max_value=10**7), st.data())
def test_a_token_changed_anywhere_is_refused(secret, purpose, unit, ttl, data):
    token = unit_access.issue(secret, purpose, unit, "ABCDE-12345", ttl)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda ch: ch != token[index]))
    assert unit_access.verify(secret, purpose, token[:index] + replacement + token[index + 1:]) is None


@given(secrets_, purposes, st.text(max_size=120))
@example("k", unit_access.LINK, "unit.ABCDE-12345.\u00b2.sig")  # "²".isdigit(), but int() refuses it
@example("k", unit_access.LINK, "unit.ABCDE-12345." + "9" * 5000 + ".sig")  # past int()'s digit limit
def test_verifying_any_token_never_crashes(secret, purpose, token):
    # The token comes from a query string or a cookie: anything at all.
    assert unit_access.verify(secret, purpose, token) is None or token.count(".") == 3
