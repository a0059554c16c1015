"""A per-client limit on submissions: a token bucket per client address, in this process's memory.

With several replicas each keeps its own buckets, so the effective limit is per replica; the
ingress can add a global one. Old buckets are dropped so memory stays bounded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MAX_CLIENTS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.buckets: dict[str, _Bucket] = {}

    def allow(self, client: str, now: float | None = None) -> float:
        """0 when the request may go ahead, otherwise the seconds to wait."""
        now = time.monotonic() if now is None else now
        bucket = self.buckets.get(client)
        if bucket is None:
            if len(self.buckets) >= MAX_CLIENTS:
                self._forget_full_buckets(now)
            bucket = self.buckets[client] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _forget_full_buckets(self, now: float) -> None:
        """Buckets full again are forgotten; if as many clients are still active (a flood from many
        addresses), the least recently seen half goes too: the table never grows past MAX_CLIENTS."""
        refill = self.burst / self.rate
        self.buckets = {k: b for k, b in self.buckets.items() if now - b.updated < refill}
        if len(self.buckets) >= MAX_CLIENTS:
            recent = sorted(self.buckets.items(), key=lambda item: item[1].updated)[MAX_CLIENTS // 2:]
            self.buckets = dict(recent)
