"""Pure parts of delivery: back-off, the circuit breaker, HTTP outcomes, messages, working days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from services.lapor_sync.circuit_breaker import CircuitBreaker
from services.notifier.messages import (
    citizen_ack_text,
    citizen_status_template_parameters,
    citizen_status_text,
    status_link,
    unit_webhook_payload,
)
from services.router.lifecycle.working_days import WorkingCalendar
from shared.contracts import ComplaintStatus
from shared.jobs import PermanentFailure, RetryLater, RetryPolicy, raise_for_http
from tests.support import events


def test_backoff_grows_exponentially_is_capped_and_jittered():
    policy = RetryPolicy(max_attempts=15, base_seconds=5, max_seconds=600)
    for attempt, ceiling in ((1, 5), (2, 10), (3, 20), (8, 600), (15, 600)):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered: replicas do not retry in lockstep
    worst_case_total = sum(policy.max_seconds if policy.base_seconds * 2 ** (a - 1) > 600
                           else policy.base_seconds * 2 ** (a - 1) for a in range(1, 15))
    assert worst_case_total > 3600  # an outage of an hour is outlasted


@pytest.mark.parametrize(("status", "headers", "outcome"), [
    (200, {}, None), (202, {}, None),
    (429, {"Retry-After": "7"}, RetryLater), (503, {}, RetryLater),
    (500, {}, ConnectionError), (502, {}, ConnectionError),
    (400, {}, PermanentFailure), (401, {}, PermanentFailure), (404, {}, PermanentFailure),
])
def test_http_answers_map_to_job_outcomes(status, headers, outcome):
    response = httpx.Response(status, headers=headers, text="x")
    if outcome is None:
        raise_for_http(response, "test")
        return
    with pytest.raises(outcome) as raised:
        raise_for_http(response, "test")
    if status == 429:
        assert raised.value.seconds == 7


async def test_circuit_opens_after_failures_and_lets_one_trial_through():
    breaker = CircuitBreaker(threshold=3, open_seconds=0.2)
    calls = 0

    async def failing():
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    for _ in range(3):
        with pytest.raises(ConnectionError):
            await breaker.call(failing)
    with pytest.raises(RetryLater):  # open: LAPOR! is not called at all
        await breaker.call(failing)
    assert calls == 3
    import asyncio
    await asyncio.sleep(0.25)

    async def healthy():
        return "ok"

    assert await breaker.call(healthy) == "ok"  # the trial succeeds: closed again
    assert breaker.opened_at is None and breaker.failures == 0


async def test_a_refusal_from_lapor_does_not_count_as_lapor_being_down():
    breaker = CircuitBreaker(threshold=1, open_seconds=60)

    async def refused():
        raise PermanentFailure("400")

    with pytest.raises(PermanentFailure):
        await breaker.call(refused)
    assert breaker.opened_at is None


def test_citizen_ack_fits_an_sms_and_names_the_code():
    assigned = events.assigned("Lampu jalan mati", channel="sms")
    text = citizen_ack_text(assigned, status_link("https://surga.kedirikota.go.id", assigned.tracking_code))
    assert assigned.tracking_code in text and "SURGA CEK" in text
    assert len(text) <= 300  # two SMS parts at most


def test_a_long_answer_reaches_a_phone_as_one_gsm_line_cut_short():
    assigned = events.assigned("SURGA lampu jalan mati", channel="sms")
    change = events.status_changed(assigned, ComplaintStatus.RESPONDED, 2, "Lampu diganti.\n\n" + "Terima kasih. " * 80)
    text = citizen_status_text(change, status_link("https://surga.kedirikota.go.id", assigned.tracking_code))
    assert "\n" not in text and "Lampu diganti. Terima kasih." in text and "... Bila belum sesuai" in text
    assert "…" not in text and len(text) < 640  # GSM-7 (no ellipsis), at most five SMS parts
    [_, status, message, _] = citizen_status_template_parameters(change)
    assert status == "ditanggapi" and "\n" not in message and "  " not in message and len(message) <= 700


def test_unit_webhook_never_carries_the_citizens_contact():
    payload = unit_webhook_payload(events.assigned(anonymity=events.Anonymity.RAHASIA))
    assert "citizen_contact" not in payload and payload["reporter_for_unit"] is None


def test_working_days_skip_weekends_public_holidays_and_collective_leave():
    calendar = WorkingCalendar(collective_leave=[date(2026, 12, 24)])
    friday = datetime(2026, 12, 18, 9, 0, tzinfo=UTC)
    # Mon 21, Tue 22, Wed 23 count; Thu 24 is collective leave, Fri 25 Christmas; Mon 28 is the 4th.
    assert calendar.add_working_days(friday, 3) == date(2026, 12, 23)
    assert calendar.add_working_days(friday, 4) == date(2026, 12, 28)
    assert not calendar.is_working_day(date(2026, 8, 17))  # Independence Day
    late_evening_utc = datetime(2026, 12, 18, 20, 0, tzinfo=UTC)  # already Saturday in Kediri (WIB)
    assert calendar.add_working_days(late_evening_utc, 1) == date(2026, 12, 21)
