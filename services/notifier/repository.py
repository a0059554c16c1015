"""The notifier's PostgreSQL adapter: the delivery records."""

from __future__ import annotations

import asyncpg


class DeliveryRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def begin(self, assignment_id: str, recipient: str, kind: str, complaint_id: str,
                    message_id: str) -> bool:
        """Record an attempt; False when this delivery was already sent (nothing to do)."""
        status = await self.pool.fetchval(
            """INSERT INTO deliveries (assignment_id, recipient, kind, complaint_id, status, message_id)
               VALUES ($1, $2, $3, $4, 'sending', $5)
               ON CONFLICT (assignment_id, recipient, kind)
               DO UPDATE SET attempts = deliveries.attempts + 1
               RETURNING status""",
            assignment_id, recipient, kind, complaint_id, message_id,
        )
        return status != "sent"

    async def mark_sent(self, assignment_id: str, recipient: str, kind: str) -> None:
        await self.pool.execute(
            """UPDATE deliveries SET status = 'sent', sent_at = now(), last_error = NULL
               WHERE assignment_id = $1 AND recipient = $2 AND kind = $3""",
            assignment_id, recipient, kind,
        )

    async def mark_failed(self, assignment_id: str, recipient: str, kind: str, error: str) -> None:
        await self.pool.execute(
            "UPDATE deliveries SET last_error = $4 WHERE assignment_id = $1 AND recipient = $2 AND kind = $3",
            assignment_id, recipient, kind, error[:2000],
        )
