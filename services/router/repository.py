"""The router's PostgreSQL adapter."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from shared.contracts import ComplaintAssigned, ComplaintReceived


class RouterRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def assign_once(
        self, received: ComplaintReceived, decide: Callable[[int], ComplaintAssigned]
    ) -> tuple[ComplaintAssigned, bool]:
        """Store the complaint and its first assignment, exactly once.

        Returns the current assignment and whether it was created now. On a redelivery the
        stored assignment comes back unchanged, so it can be republished as it was.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO complaints (complaint_id, tracking_code, channel, channel_message_id, text,
                                           anonymity, reporter, category, received_at, correlation_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                   ON CONFLICT (complaint_id) DO NOTHING""",
                received.complaint_id, received.tracking_code, received.channel.value,
                received.channel_message_id, received.text, received.anonymity.value,
                received.reporter.model_dump_json(), received.category, received.received_at,
                received.correlation_id,
            )
            # Row lock: two routers given the same complaint (a rebalance) decide one at a time.
            await conn.execute("SELECT 1 FROM complaints WHERE complaint_id = $1 FOR UPDATE",
                               received.complaint_id)
            stored = await conn.fetchval(
                "SELECT event FROM assignments WHERE complaint_id = $1 ORDER BY sequence DESC LIMIT 1",
                received.complaint_id,
            )
            if stored is not None:
                return ComplaintAssigned.model_validate_json(stored), False
            assigned = decide(1)
            await conn.execute(
                """INSERT INTO assignments (assignment_id, complaint_id, sequence, unit_code, rule_id,
                                            ruleset_version, matched_terms, is_fallback, event)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                assigned.assignment_id, assigned.complaint_id, assigned.sequence, assigned.unit.code,
                assigned.rule_id, assigned.ruleset_version, assigned.matched_terms, assigned.is_fallback,
                assigned.model_dump_json(),
            )
            return assigned, True
