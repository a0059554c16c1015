"""The LAPOR sync's PostgreSQL adapter."""

from __future__ import annotations

import asyncpg


class ReportRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def tracking_id(self, complaint_id: str) -> str | None:
        return await self.pool.fetchval(
            "SELECT lapor_tracking_id FROM reports WHERE complaint_id = $1", complaint_id)

    async def store(self, complaint_id: str, assignment_id: str, tracking_id: str, status: str) -> None:
        await self.pool.execute(
            """INSERT INTO reports (complaint_id, assignment_id, lapor_tracking_id, lapor_status)
               VALUES ($1, $2, $3, $4) ON CONFLICT (complaint_id) DO NOTHING""",
            complaint_id, assignment_id, tracking_id, status,
        )
