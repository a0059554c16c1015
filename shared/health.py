"""Liveness, readiness and Prometheus metrics, as plain ASGI apps every service mounts.

Liveness answers while the process can serve requests, whatever Kafka or PostgreSQL do
(so Kubernetes does not restart a healthy pod during a broker outage). Readiness runs
the service's checks: the broker and, where the service has one, the database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from prometheus_client import REGISTRY, CollectorRegistry, make_asgi_app

Check = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_SECONDS = 2.0


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


class Liveness:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await _send_json(send, 200, {"status": "alive"})


class Readiness:
    def __init__(self, checks: dict[str, Check]) -> None:
        self.checks = checks

    async def _run(self, check: Check) -> bool:
        try:
            return await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except Exception:  # a failing dependency is "not ready", never a crash
            return False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(self.checks[n]) for n in names))
        report = dict(zip(names, results, strict=True))
        ready = all(results)
        await _send_json(send, 200 if ready else 503, {"ready": ready, "checks": report})


def broker_check(broker: Any) -> Check:
    async def check() -> bool:
        return bool(await broker.ping(timeout=CHECK_TIMEOUT_SECONDS))
    return check


def either(first: Check, second: Check) -> Check:
    """Ready when one of the two is: an intake that keeps messages while Kafka is away (the SMS spool)."""
    async def check() -> bool:
        try:
            if await first():
                return True
        except Exception:
            pass
        return await second()
    return check


def database_check(get_pool: Callable[[], asyncpg.Pool | None]) -> Check:
    async def check() -> bool:
        pool = get_pool()
        if pool is None:
            return False
        async with pool.acquire(timeout=CHECK_TIMEOUT_SECONDS) as conn:
            return bool(await conn.fetchval("SELECT 1") == 1)
    return check


class Metrics:
    """Prometheus exposition; a class so every ASGI host treats it as an app, not a view."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.app = make_asgi_app(registry)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def health_routes(checks: dict[str, Check],
                  registry: CollectorRegistry = REGISTRY) -> list[tuple[str, Any]]:
    """(path, ASGI app) pairs for /healthz, /readyz and /metrics."""
    return [("/healthz", Liveness()), ("/readyz", Readiness(checks)),
            ("/metrics", Metrics(registry))]
