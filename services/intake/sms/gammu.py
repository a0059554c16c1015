"""Gammu SMSD with an SQL backend: read its `inbox` table, mark rows processed after Kafka acknowledged.

Gammu writes each received SMS into `inbox` ("ID", "SenderNumber", "ReceivingDateTime" in the
modem host's local time, "TextDecoded", "Processed"). Rows are claimed with FOR UPDATE SKIP
LOCKED, so several intake replicas share the work, and marked processed in the same
transaction after the broker acknowledged: a crash in between leaves them unprocessed, and
the next pass publishes them again under the same complaint id. A status check (`SURGA CEK`)
whose status cannot be read now stays unprocessed the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from services.intake.sms.inbound import InboundSms
from services.intake.sms.status import StatusUnavailable
from shared.channel_kit import BrokerUnavailable, InvalidText

log = structlog.get_logger(__name__)
BATCH = 100


class GammuInbox:
    def __init__(self, database_url: str, gateway_name: str, zone: ZoneInfo,
                 accept: Callable[[InboundSms], Awaitable[dict]]) -> None:
        self.database_url, self.gateway_name, self.zone, self.accept = database_url, gateway_name, zone, accept
        self.pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=2)

    async def close(self) -> None:
        if self.pool:
            await self.pool.close()

    async def poll_once(self) -> int:
        """Publish what is waiting; returns how many rows were marked processed."""
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                'SELECT "ID", "SenderNumber", "ReceivingDateTime", "TextDecoded", "RecipientID" FROM inbox'
                ' WHERE NOT "Processed" ORDER BY "ID" LIMIT $1 FOR UPDATE SKIP LOCKED', BATCH)
            done = []
            for row in rows:
                sms = InboundSms(
                    gateway=f"gammu-{self.gateway_name}", message_id=str(row["ID"]), sender=row["SenderNumber"],
                    receiver=row["RecipientID"] or None, text=row["TextDecoded"],
                    received_at=row["ReceivingDateTime"].replace(tzinfo=self.zone))
                try:
                    await self.accept(sms)
                except InvalidText as error:  # can never succeed: mark it, say why
                    log.warning("gammu_row_rejected", gammu_id=row["ID"], reason=error.reason)
                except (BrokerUnavailable, StatusUnavailable):
                    break  # keep this row and the rest unprocessed; the rows done so far commit
                done.append(row["ID"])
            if done:
                await conn.execute('UPDATE inbox SET "Processed" = true WHERE "ID" = ANY($1::int[])', done)
            return len(done)

    async def run(self, interval_seconds: float) -> None:
        while True:
            try:
                await self.poll_once()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("gammu_inbox_unreachable", error=repr(error))
            await asyncio.sleep(interval_seconds)
