"""The LAPOR sync's PostgreSQL adapter."""

from __future__ import annotations

import asyncpg


class ReportRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def synced(self, complaint_id: str) -> tuple[str, int] | None:
        """The LAPOR! tracking id and the last assignment sequence LAPOR! knows, if any."""
        row = await self.pool.fetchrow(
            "SELECT lapor_tracking_id, synced_sequence FROM reports WHERE complaint_id = $1", complaint_id)
        return (row["lapor_tracking_id"], row["synced_sequence"]) if row else None

    async def mark_synced(self, complaint_id: str, sequence: int) -> None:
        await self.pool.execute(
            "UPDATE reports SET synced_sequence = greatest(synced_sequence, $2) WHERE complaint_id = $1",
            complaint_id, sequence)

    async def store(self, complaint_id: str, assignment_id: str, tracking_id: str, status: str,
                    sequence: int) -> None:
        await self.pool.execute(
            """INSERT INTO reports (complaint_id, assignment_id, lapor_tracking_id, lapor_status, synced_sequence)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (complaint_id) DO NOTHING""",
            complaint_id, assignment_id, tracking_id, status, sequence,
        )
