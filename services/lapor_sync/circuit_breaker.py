"""A circuit breaker for calls to SP4N-LAPOR!: while it is down, stop knocking.

Closed: calls go through. After `threshold` consecutive failures it opens: calls are refused
at once (the job is rescheduled, not attempted) for `open_seconds`. Then one trial call goes
through (half-open); success closes it, failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import Gauge

from shared.jobs import PermanentFailure, RetryLater

T = TypeVar("T")
OPEN = Gauge("aduan_lapor_circuit_open", "1 while calls to LAPOR! are suspended")


class CircuitBreaker:
    def __init__(self, threshold: int = 5, open_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`clock` gives seconds on a steady scale (tests pass a fake one instead of waiting)."""
        self.threshold, self.open_seconds, self.clock = threshold, open_seconds, clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_running = False

    def _remaining(self) -> float:
        return self.open_seconds - (self.clock() - self.opened_at) if self.opened_at is not None else 0.0

    async def call(self, action: Callable[[], Awaitable[T]]) -> T:
        if self.opened_at is not None:
            if self._remaining() > 0 or self.trial_running:
                raise RetryLater(max(self._remaining(), 1.0), "LAPOR! circuit open: not calling while it is down")
            self.trial_running = True  # half-open: this call is the trial
        try:
            result = await action()
        except (RetryLater, PermanentFailure):
            self._settle(success=True)  # LAPOR! answered: it is up, even if it said no or "later"
            raise
        except Exception:
            self._settle(success=False)
            raise
        self._settle(success=True)
        return result

    def _settle(self, success: bool) -> None:
        self.trial_running = False
        if success:
            self.failures, self.opened_at = 0, None
        else:
            self.failures += 1
            if self.failures >= self.threshold:
                self.opened_at = self.clock()
        OPEN.set(1 if self.opened_at is not None else 0)
