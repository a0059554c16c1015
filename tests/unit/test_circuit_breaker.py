"""The circuit breaker in front of SP4N-LAPOR!, on a fake clock: open after failures, one trial after the pause."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from services.lapor_sync.circuit_breaker import CircuitBreaker
from shared.jobs import PermanentFailure, RetryLater


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Lapor:
    """Counts the calls that reach it; answers as told."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: Exception | None = ConnectionError("down")

    async def __call__(self) -> str:
        self.calls += 1
        if self.error:
            raise self.error
        return "ok"


def circuit_open_gauge() -> float | None:
    """What operators see: aduan_lapor_circuit_open."""
    return REGISTRY.get_sample_value("aduan_lapor_circuit_open")


async def open_breaker(clock: FakeClock, lapor: Lapor, threshold: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker(threshold=threshold, open_seconds=30, clock=clock)
    for _ in range(threshold):
        with pytest.raises(ConnectionError):
            await breaker.call(lapor)
    return breaker


async def test_circuit_opens_after_failures_and_lets_one_trial_through():
    clock, lapor = FakeClock(), Lapor()
    breaker = await open_breaker(clock, lapor)
    assert circuit_open_gauge() == 1
    clock.now = 29.5
    with pytest.raises(RetryLater) as refused:  # open: LAPOR! is not called at all
        await breaker.call(lapor)
    assert lapor.calls == 3
    assert refused.value.seconds == 1.0  # half a second left, but never sooner than a second
    clock.now = 30.0
    lapor.error = None
    assert await breaker.call(lapor) == "ok"  # the trial succeeds: closed again
    assert (lapor.calls, breaker.opened_at, breaker.failures) == (4, None, 0)
    assert circuit_open_gauge() == 0


async def test_the_pause_is_told_to_the_job_that_was_refused():
    clock, lapor = FakeClock(), Lapor()
    breaker = await open_breaker(clock, lapor)
    clock.now = 10.0
    with pytest.raises(RetryLater) as refused:
        await breaker.call(lapor)
    assert refused.value.seconds == 20.0


async def test_a_failed_trial_opens_the_circuit_again_for_a_full_pause():
    clock, lapor = FakeClock(), Lapor()
    breaker = await open_breaker(clock, lapor)
    clock.now = 31.0
    with pytest.raises(ConnectionError):  # the trial goes through, and fails
        await breaker.call(lapor)
    assert lapor.calls == 4 and breaker.opened_at == 31.0
    clock.now = 60.0
    with pytest.raises(RetryLater):
        await breaker.call(lapor)
    assert lapor.calls == 4


async def test_while_the_trial_runs_other_calls_are_refused():
    clock, lapor = FakeClock(), Lapor()
    breaker = await open_breaker(clock, lapor)
    clock.now = 30.0
    lapor.error = None
    seen_during_trial = []

    async def trial() -> str:
        with pytest.raises(RetryLater):
            await breaker.call(lapor)
        seen_during_trial.append(lapor.calls)
        return await lapor()

    assert await breaker.call(trial) == "ok"
    assert seen_during_trial == [3]  # the second call did not reach LAPOR!
    assert breaker.opened_at is None


async def test_failures_must_be_consecutive():
    clock, lapor = FakeClock(), Lapor()
    breaker = CircuitBreaker(threshold=2, open_seconds=30, clock=clock)
    for error in (ConnectionError("down"), None, ConnectionError("down")):
        lapor.error = error
        if error:
            with pytest.raises(ConnectionError):
                await breaker.call(lapor)
        else:
            await breaker.call(lapor)
    assert breaker.opened_at is None and breaker.failures == 1


@pytest.mark.parametrize("answer", [PermanentFailure("400"), RetryLater(7, "429")])
async def test_an_answer_from_lapor_does_not_count_as_lapor_being_down(answer):
    clock, lapor = FakeClock(), Lapor()
    breaker = CircuitBreaker(threshold=1, open_seconds=60, clock=clock)
    lapor.error = answer
    with pytest.raises(type(answer)):
        await breaker.call(lapor)
    assert breaker.opened_at is None and breaker.failures == 0
