"""The status read model: what a citizen sees when checking a tracking code."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from shared.contracts import ComplaintAssigned, ComplaintReceived

RECEIVED, ASSIGNED = (1, "diterima"), (2, "diteruskan")
STATUS_TEXT = {
    "diterima": "Aduan diterima dan sedang ditelaah.",
    "diteruskan": "Aduan diteruskan kepada {unit} untuk ditindaklanjuti.",
}


class StatusRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def _upsert(self, tracking_code: str, complaint_id: str, channel: str, rank_status: tuple,
                      received_at: datetime, unit_code: str | None, unit_name: str | None,
                      sequence: int = 0, durable: bool = True) -> None:
        rank, status = rank_status
        async with self.pool.acquire() as conn, conn.transaction():
            if not durable:
                await conn.execute("SET LOCAL synchronous_commit TO OFF")
            await conn.execute(
                """INSERT INTO complaint_status (tracking_code, complaint_id, channel, status, status_rank,
                                                 unit_code, unit_name, received_at, assignment_sequence)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (tracking_code) DO UPDATE
                   SET status = EXCLUDED.status, status_rank = EXCLUDED.status_rank,
                       unit_code = EXCLUDED.unit_code, unit_name = EXCLUDED.unit_name,
                       assignment_sequence = EXCLUDED.assignment_sequence, updated_at = now()
                   WHERE (complaint_status.status_rank, complaint_status.assignment_sequence)
                         <= (EXCLUDED.status_rank, EXCLUDED.assignment_sequence)""",
                tracking_code, complaint_id, channel, status, rank, unit_code, unit_name, received_at, sequence)

    async def received(self, event: ComplaintReceived, durable: bool = True) -> None:
        """`durable=False` when the consumer will write it again from Kafka anyway: no fsync wait."""
        await self._upsert(event.tracking_code, event.complaint_id, event.channel, RECEIVED,
                           event.received_at, None, None, durable=durable)

    async def assigned(self, event: ComplaintAssigned) -> None:
        await self._upsert(event.tracking_code, event.complaint_id, event.channel, ASSIGNED,
                           event.received_at, event.unit.code, event.unit.name, event.sequence)

    async def find(self, tracking_code: str) -> dict | None:
        row = await self.pool.fetchrow(
            "SELECT tracking_code, complaint_id, channel, status, unit_code, unit_name, received_at, updated_at"
            " FROM complaint_status WHERE tracking_code = $1", tracking_code)
        if row is None:
            return None
        found = dict(row)
        found["complaint_id"] = str(found["complaint_id"])
        found["description"] = STATUS_TEXT[found["status"]].format(unit=found["unit_name"])
        return found
