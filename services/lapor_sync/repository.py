"""The LAPOR sync's PostgreSQL adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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

    async def post_status(self, complaint_id: str, sequence: int, status: str,
                          post: Callable[[str, str], Awaitable[None]]) -> str | None:
        """`post(tracking_id, status)` with the report's row locked, then record it; None if there is no report yet.

        The lock makes one complaint's status changes reach LAPOR! one at a time (it is held for one LAPOR!
        call, bounded by its timeout). A change older than one already posted keeps the newer status, so a
        retry that was overtaken adds its text but never sets the report back.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT lapor_tracking_id, lapor_status, status_sequence FROM reports WHERE complaint_id = $1"
                " FOR UPDATE", complaint_id)
            if row is None:
                return None
            if sequence < row["status_sequence"]:
                status = row["lapor_status"]
            await post(row["lapor_tracking_id"], status)
            await conn.execute(
                """UPDATE reports SET lapor_status = $2, status_sequence = $3
                   WHERE complaint_id = $1 AND status_sequence <= $3""", complaint_id, status, sequence)
            return row["lapor_tracking_id"]
