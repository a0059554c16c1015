"""Gammu SMSD with an SQL backend: take what it writes into its `inbox` table.

Gammu writes each received SMS part as a row ("ID", "SenderNumber", "ReceivingDateTime" in the
gammu-smsd process's local time, "TextDecoded", "UDH", "Coding", "Processed"). A concatenated
SMS is one row per part: the first part's row holds the whole joined text and the others hold
nothing, so those are skipped (docs/sms-gateways.md). "RecipientID" is gammu-smsd's PhoneID
(which modem), not the number the citizen texted, so it names the gateway, not the receiver.

Rows are claimed with FOR UPDATE SKIP LOCKED (several intake replicas share the work), kept in
our spool, and marked processed in the same transaction once the spool has them: a crash in
between leaves them unprocessed, and the next pass keeps them again under the same id, which
the spool ignores. While our database is away the rows simply wait in Gammu's table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import structlog
from prometheus_client import Gauge

from services.intake.sms.inbound import InboundSms, part_number
from services.intake.sms.spool import UNAVAILABLE, Unavailable
from shared.channel_kit import InvalidText

log = structlog.get_logger(__name__)
BATCH = 100
BINARY_CODING = "8bit"  # WAP push, operator configuration: not text a citizen wrote
MODEM_CHECK_SECONDS = 15
MODEM_SILENT = Gauge("aduan_gammu_modem_silent_seconds",
                     "Seconds since gammu-smsd last reported in its phones table (alert well above 5)")


def _hex(udh: str | None) -> bytes:
    """Gammu keeps the UDH as upper-case hex ('' for none)."""
    try:
        return bytes.fromhex(udh or "")
    except ValueError:
        return b""


def inbox_sms(row: asyncpg.Record, gateway_name: str, zone: ZoneInfo) -> InboundSms | None:
    """The SMS a row holds, or None for a row that holds none of its own: a later part whose text
    is in the first part's row, binary data. A later part that holds text is one whose other parts
    never came (MultipartTimeout): kept, as a later part."""
    later_part = part_number(_hex(row["UDH"])) > 1
    if (later_part and not row["TextDecoded"]) or row["Coding"] == BINARY_CODING:
        return None
    received: datetime = row["ReceivingDateTime"]
    # The ID alone restarts at 1 when Gammu's database is rebuilt; with the time it stays one SMS's.
    return InboundSms(gateway=f"gammu-{gateway_name}", message_id=f"{row['ID']}-{received:%Y%m%d%H%M%S}",
                      sender=row["SenderNumber"], text=row["TextDecoded"] or "",
                      received_at=received.replace(tzinfo=zone), later_part=later_part)


class GammuInbox:
    def __init__(self, database_url: str, gateway_name: str, zone: ZoneInfo,
                 take: Callable[[InboundSms], Awaitable[None]]) -> None:
        self.database_url, self.gateway_name, self.zone, self.take = database_url, gateway_name, zone, take
        self.pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        # No connection yet: Gammu's database may be away at start-up; run() keeps trying.
        self.pool = await asyncpg.create_pool(self.database_url, min_size=0, max_size=2)

    async def close(self) -> None:
        if self.pool:
            await self.pool.close()

    async def poll_once(self) -> int:
        """Take what is waiting; returns how many rows were marked processed."""
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                'SELECT "ID", "SenderNumber", "ReceivingDateTime", "TextDecoded", "UDH", "Coding" FROM inbox'
                ' WHERE NOT "Processed" ORDER BY "ID" LIMIT $1 FOR UPDATE SKIP LOCKED', BATCH)
            done = []
            for row in rows:
                sms = inbox_sms(row, self.gateway_name, self.zone)
                try:
                    if sms is not None:
                        await self.take(sms)
                except InvalidText as error:  # can never succeed: mark it, say why
                    log.warning("gammu_row_rejected", gammu_id=row["ID"], reason=error.reason)
                except (Unavailable, *UNAVAILABLE) as error:
                    log.warning("gammu_row_waits", gammu_id=row["ID"], error=repr(error))
                    break  # this row and the rest stay in Gammu's table; the rows done so far commit
                done.append(row["ID"])
            if done:
                await conn.execute('UPDATE inbox SET "Processed" = true WHERE "ID" = ANY($1::int[])', done)
            return len(done)

    async def modem_silent_seconds(self) -> float:
        """Seconds since gammu-smsd last wrote its phones row (every StatusFrequency, 5 s as we
        recommend). Gammu 1.42 does not always get back to its database after a restart of it
        (deploy/gateways/gammu/smsdrc.template): this shows it. UpdatedInDB is set by a trigger in
        the database's zone, as localtimestamp is (TimeOut is in gammu-smsd's zone)."""
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            silent = await conn.fetchval(
                'SELECT extract(epoch FROM localtimestamp - max("UpdatedInDB")) FROM phones')
        return max(0.0, float(silent)) if silent is not None else float("inf")

    async def run(self, interval_seconds: float) -> None:
        last_check = 0.0
        while True:
            try:
                await self.poll_once()
                if time.monotonic() - last_check > MODEM_CHECK_SECONDS:
                    last_check = time.monotonic()
                    MODEM_SILENT.set(await self.modem_silent_seconds())
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("gammu_inbox_unreachable", error=repr(error))
            await asyncio.sleep(interval_seconds)
