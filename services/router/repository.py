"""The router's PostgreSQL adapter: complaints, their assignments, and the outbox of assignment events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from shared.contracts import ComplaintAssigned, ComplaintReceived

_INSERT_ASSIGNMENT = """
    INSERT INTO assignments (assignment_id, complaint_id, sequence, unit_code, rule_id, ruleset_version,
                             matched_terms, is_fallback, assigned_by, reason, event)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"""


@dataclass(frozen=True)
class StoredAssignment:
    event: ComplaintAssigned
    created: bool  # decided now, not found from an earlier delivery
    published: bool


class NotFound(Exception):
    pass


class RouterRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def assign_batch(
        self, batch: list[ComplaintReceived], decide: Callable[[ComplaintReceived], ComplaintAssigned]
    ) -> list[StoredAssignment]:
        """Store complaints and their first assignments, exactly once, in one transaction.

        A complaint seen before (a redelivery) comes back with its stored assignment, to be
        republished as it was when it was not published yet, and never decided a second time.
        """
        unique = list({event.complaint_id: event for event in batch}.values())
        ids = [event.complaint_id for event in unique]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                """INSERT INTO complaints (complaint_id, tracking_code, channel, channel_message_id, text,
                                           anonymity, reporter, category, received_at, correlation_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                   ON CONFLICT (complaint_id) DO NOTHING""",
                [(e.complaint_id, e.tracking_code, e.channel, e.channel_message_id, e.text, e.anonymity.value,
                  e.reporter.model_dump_json(), e.category, e.received_at, e.correlation_id) for e in unique])
            # Row locks in a fixed order: two routers given overlapping batches cannot deadlock.
            await conn.execute("SELECT 1 FROM complaints WHERE complaint_id = ANY($1::uuid[])"
                               " ORDER BY complaint_id FOR UPDATE", ids)
            stored = {str(r["complaint_id"]): r for r in await conn.fetch(
                "SELECT complaint_id, event, published_at FROM assignments"
                " WHERE complaint_id = ANY($1::uuid[]) AND sequence = 1", ids)}
            results, new = [], []
            for event in unique:
                if (row := stored.get(event.complaint_id)) is not None:
                    results.append(StoredAssignment(ComplaintAssigned.model_validate_json(row["event"]), False,
                                                    row["published_at"] is not None))
                else:
                    assigned = decide(event)
                    new.append(assigned)
                    results.append(StoredAssignment(assigned, True, False))
            await conn.executemany(_INSERT_ASSIGNMENT, [_assignment_row(a) for a in new])
            return results

    async def mark_published_many(self, assignment_ids: list[str]) -> None:
        await self.pool.execute(
            "UPDATE assignments SET published_at = now() WHERE assignment_id = ANY($1::uuid[]) AND published_at IS NULL",
            assignment_ids)

    async def reassign(self, complaint_ref: str, decide: Callable[[ComplaintAssigned], ComplaintAssigned],
                       ) -> ComplaintAssigned:
        """Add the next assignment of a complaint; `decide` gets the current one (and may refuse)."""
        async with self.pool.acquire() as conn, conn.transaction():
            complaint_id = await conn.fetchval(
                "SELECT complaint_id FROM complaints WHERE complaint_id::text = $1 OR tracking_code = $1 FOR UPDATE",
                complaint_ref)
            if complaint_id is None:
                raise NotFound(complaint_ref)
            current = await conn.fetchval(
                "SELECT event FROM assignments WHERE complaint_id = $1 ORDER BY sequence DESC LIMIT 1",
                complaint_id)
            assigned = decide(ComplaintAssigned.model_validate_json(current))
            await self._insert(conn, assigned)
            return assigned

    async def history(self, complaint_ref: str) -> list[dict]:
        """Every assignment of a complaint, oldest first: the answer to "why this unit?"."""
        rows = await self.pool.fetch(
            """SELECT a.sequence, a.unit_code, a.rule_id, a.ruleset_version, a.matched_terms, a.is_fallback,
                      a.assigned_by, a.reason, a.assigned_at, a.published_at, c.complaint_id, c.tracking_code
               FROM assignments a JOIN complaints c USING (complaint_id)
               WHERE c.complaint_id::text = $1 OR c.tracking_code = $1
               ORDER BY a.sequence""",
            complaint_ref)
        return [{**dict(row), "complaint_id": str(row["complaint_id"])} for row in rows]

    async def mark_published(self, assignment_id: str) -> None:
        await self.pool.execute(
            "UPDATE assignments SET published_at = now() WHERE assignment_id = $1 AND published_at IS NULL",
            assignment_id)

    async def unpublished(self, older_than_seconds: float, limit: int = 100) -> list[ComplaintAssigned]:
        rows = await self.pool.fetch(
            """SELECT event FROM assignments
               WHERE published_at IS NULL AND assigned_at < now() - make_interval(secs => $1)
               ORDER BY complaint_id, sequence LIMIT $2""",
            older_than_seconds, limit)
        return [ComplaintAssigned.model_validate_json(row["event"]) for row in rows]

    @staticmethod
    async def _insert(conn: asyncpg.Connection, assigned: ComplaintAssigned) -> None:
        await conn.execute(_INSERT_ASSIGNMENT, *_assignment_row(assigned))


def _assignment_row(a: ComplaintAssigned) -> tuple:
    return (a.assignment_id, a.complaint_id, a.sequence, a.unit.code, a.rule_id, a.ruleset_version,
            a.matched_terms, a.is_fallback, a.assigned_by, a.reason, a.model_dump_json())
