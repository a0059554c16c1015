"""The inbound spool: an SMS is ours from the moment its gateway hands it over (docs/adr/0003).

Kannel does not retry a failed request by default and keeps any retry only in memory; Gammu
marks a row processed and forgets it. So every SMS is first written here, and the gateway is
answered only after that commit. The SMS is then handled at once (complaint published, status
check answered) when Kafka and the status API answer, and otherwise later by the relay, which
retries with back-off until they do. A redelivery of an SMS already handled gets the first
answer again and publishes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import structlog
from prometheus_client import Gauge

from services.intake.sms.inbound import InboundSms
from shared.database import create_pool, migrate
from shared.jobs import DATABASE_AWAY
from shared.settings import DatabaseSettings

log = structlog.get_logger(__name__)

SCHEMA = "intake_sms"
MIGRATIONS = Path(__file__).parent / "migrations"
# Any of these means "the database is not there now": the caller falls back or tries again.
UNAVAILABLE = (*DATABASE_AWAY, asyncpg.PostgresError, asyncio.TimeoutError)
WAITING = Gauge("aduan_sms_spool_waiting", "Inbound SMS kept but not yet handled (Kafka or the status API away)")


class Unavailable(Exception):
    """Handling cannot finish now: keep the SMS and try again later. `everything_waits`: Kafka is away,
    so every other SMS would fail the same way; the status API away holds up only status checks."""

    def __init__(self, reason: str, *, everything_waits: bool) -> None:
        super().__init__(reason)
        self.everything_waits = everything_waits


class Spool:
    def __init__(self, settings: DatabaseSettings, *, retry_base_seconds: float = 1.0,
                 retry_max_seconds: float = 60.0, lease_seconds: float = 60.0, keep_days: int = 30) -> None:
        self.settings = settings
        self.retry_base, self.retry_max, self.lease, self.keep_days = (
            retry_base_seconds, retry_max_seconds, lease_seconds, keep_days)
        self.pool: asyncpg.Pool | None = None

    @property
    def open(self) -> bool:
        return self.pool is not None

    async def connect(self) -> None:
        """Pool and migrations; raises while the database is away (the caller tries again)."""
        pool = await create_pool(self.settings, SCHEMA)
        try:
            await migrate(pool, SCHEMA, MIGRATIONS)
        except BaseException:
            await pool.close()
            raise
        self.pool = pool

    async def close(self) -> None:
        if self.pool:
            await self.pool.close()

    def _conn(self) -> asyncpg.pool.PoolAcquireContext:
        if self.pool is None:
            raise ConnectionError("spool not connected yet")
        return self.pool.acquire(timeout=5)

    async def keep(self, sms: InboundSms, *, handled_inline: bool = True) -> dict | None:
        """Store the SMS durably (the gateway may be told "accepted" after this returns). The relay
        takes it at once, or only after a lease when the caller handles it inline first. Returns the
        first answer when the gateway delivered this SMS before and it was handled; else None."""
        async with self._conn() as conn:
            inserted = await conn.fetchval(
                """INSERT INTO inbound_sms (gateway, message_id, sender, receiver, text, received_at, later_part,
                                           next_attempt_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
                   ON CONFLICT (gateway, message_id) DO NOTHING RETURNING true""",
                sms.gateway, sms.message_id, sms.sender, sms.receiver, sms.text, sms.received_at, sms.later_part,
                self.lease if handled_inline else 0.0)
            if inserted:
                return None
            outcome = await conn.fetchval(
                "SELECT outcome FROM inbound_sms WHERE gateway = $1 AND message_id = $2", sms.gateway, sms.message_id)
            return json.loads(outcome) if outcome else None

    async def handled(self, sms: InboundSms, outcome: dict) -> None:
        """Done with it: keep the answer for a redelivery, drop the personal data."""
        async with self._conn() as conn:
            await conn.execute(
                """UPDATE inbound_sms SET handled_at = now(), outcome = $3, sender = NULL, text = NULL,
                          last_error = NULL WHERE gateway = $1 AND message_id = $2 AND handled_at IS NULL""",
                sms.gateway, sms.message_id, json.dumps(outcome))

    async def postpone(self, sms: InboundSms, error: str) -> None:
        async with self._conn() as conn:
            await conn.execute(
                """UPDATE inbound_sms SET last_error = $3, next_attempt_at = now() + make_interval(secs =>
                          least($4 * power(2, least(attempts, 20)), $5))
                   WHERE gateway = $1 AND message_id = $2 AND handled_at IS NULL""",
                sms.gateway, sms.message_id, error[:500], self.retry_base, self.retry_max)

    async def claim(self, limit: int) -> list[InboundSms]:
        """What is due, oldest first, leased to this replica (another takes it if this one dies)."""
        async with self._conn() as conn:
            rows = await conn.fetch(
                """UPDATE inbound_sms SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
                   WHERE (gateway, message_id) IN (
                       SELECT gateway, message_id FROM inbound_sms WHERE handled_at IS NULL AND next_attempt_at <= now()
                       ORDER BY accepted_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                   RETURNING gateway, message_id, sender, receiver, text, received_at, later_part, accepted_at""",
                limit, self.lease)
        return [InboundSms(gateway=r["gateway"], message_id=r["message_id"], sender=r["sender"],
                           receiver=r["receiver"], text=r["text"], received_at=r["received_at"],
                           later_part=r["later_part"])
                for r in sorted(rows, key=lambda r: r["accepted_at"])]

    async def waiting(self) -> int:
        async with self._conn() as conn:
            return await conn.fetchval("SELECT count(*) FROM inbound_sms WHERE handled_at IS NULL")

    async def forget_old(self) -> int:
        """Handled rows older than keep_days: long past any gateway redelivery."""
        async with self._conn() as conn:
            status = await conn.execute(
                "DELETE FROM inbound_sms WHERE handled_at < now() - make_interval(days => $1)", self.keep_days)
        return int(status.split()[-1])


class Relay:
    """Handles what the spool holds: at once when woken, else every `idle_seconds`."""

    def __init__(self, spool: Spool, handle: Callable[[InboundSms], Awaitable[dict]],
                 idle_seconds: float = 1.0, batch: int = 50) -> None:
        self.spool, self.handle, self.idle, self.batch = spool, handle, idle_seconds, batch
        self.wake = asyncio.Event()

    async def run(self) -> None:
        passes = 0
        while True:
            try:
                if not self.spool.open:
                    await self.spool.connect()
                    log.info("sms_spool_connected")
                await self.drain()
                passes += 1
                if passes % 3600 == 1:
                    await self.spool.forget_old()
                WAITING.set(await self.spool.waiting())
            except UNAVAILABLE as error:
                log.warning("sms_spool_database_away", error=repr(error))
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), self.idle)
            except TimeoutError:
                pass

    async def drain(self) -> int:
        """Handle what is due until nothing is or Kafka/the status API stop answering; how many were handled."""
        done = 0
        while batch := await self.spool.claim(self.batch):
            for index, sms in enumerate(batch):
                try:
                    outcome = await self.handle(sms)
                except Unavailable as error:
                    if not error.everything_waits:  # a status check while the status API is away
                        await self.spool.postpone(sms, str(error))
                        continue
                    for waiting in batch[index:]:  # Kafka is away: the rest would fail the same way
                        await self.spool.postpone(waiting, str(error))
                    return done
                except Exception as error:  # a bug of ours, not a bad SMS: keep it, log it, go on with the rest
                    log.exception("sms_relay_handling_failed", gateway=sms.gateway)
                    await self.spool.postpone(sms, repr(error))
                    continue
                await self.spool.handled(sms, outcome)
                done += 1
        return done
