"""How delivery jobs wait between attempts, and which HTTP answers mean wait, retry or give up (shared/jobs.py)."""

from __future__ import annotations

import httpx
import pytest

from shared import jobs
from shared.jobs import PermanentFailure, RetryLater, RetryPolicy, raise_for_http


def test_backoff_grows_exponentially_is_capped_and_jittered():
    policy = RetryPolicy(max_attempts=15, base_seconds=5, max_seconds=600)
    for attempt, ceiling in ((1, 5), (2, 10), (3, 20), (8, 600), (15, 600)):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered: replicas do not retry in lockstep


@pytest.mark.parametrize(("jitter", "least", "most"), [
    (lambda low, high: low, 40 * 60, 41 * 60),  # every wait as short as the jitter allows
    (lambda low, high: high, 80 * 60, 81 * 60),  # every wait as long as it allows
])
def test_the_default_policy_rides_out_an_outage_of_forty_to_eighty_minutes(monkeypatch, jitter, least, most):
    """From the first failed attempt to the last (the 15th), the defaults wait 14 times: between about
    40 and 80 minutes in all, depending on the jitter (an hour on average)."""
    monkeypatch.setattr(jobs.random, "uniform", jitter)
    policy = RetryPolicy()
    span = sum(policy.delay(attempts) for attempts in range(1, policy.max_attempts))
    assert least <= span <= most


@pytest.mark.parametrize(("status", "headers", "outcome"), [
    (200, {}, None), (202, {}, None),
    (429, {"Retry-After": "7"}, RetryLater), (503, {}, RetryLater),
    (500, {}, ConnectionError), (502, {}, ConnectionError), (408, {}, ConnectionError),
    (400, {}, PermanentFailure), (401, {}, PermanentFailure), (404, {}, PermanentFailure),
])
def test_http_answers_map_to_job_outcomes(status, headers, outcome):
    response = httpx.Response(status, headers=headers, text="x")
    if outcome is None:
        assert raise_for_http(response, "test") is None
        return
    with pytest.raises(outcome) as raised:
        raise_for_http(response, "test")
    if status == 429:
        assert raised.value.seconds == 7
    if status == 503:
        assert raised.value.seconds == 30.0  # no Retry-After: half a minute
