"""The router's PostgreSQL adapter: complaints, their assignments and status changes, escalations, and the
outbox of the events they publish."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import asyncpg

from services.router import lifecycle
from services.router.application import decisions
from services.router.application.ports import Complaint, NotFound, OutboxEvent, SearchCriteria, StoredAssignment
from services.router.lifecycle import FINISHED, escalation
from services.router.routing.duplicates import Sighting
from shared.contracts import (
    CitizenContactChanged,
    CitizenReplied,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintReceived,
    ComplaintStatusChanged,
    EscalationStage,
    contact_digest,
)
from shared.local_time import WIB
from shared.statuses import ASSIGNED, ComplaintStatus

__all__ = ["NotFound", "OutboxEvent", "RouterRepository", "StoredAssignment"]
# Where each published event is kept, and its key there.
_OUTBOX = {ComplaintAssigned: ("assignments", "assignment_id"), ComplaintStatusChanged: ("status_changes", "change_id"),
           ComplaintEscalated: ("escalations", "escalation_id")}

_INSERT_ASSIGNMENT = """
    INSERT INTO assignments (assignment_id, complaint_id, sequence, unit_code, rule_id, ruleset_version,
                             matched_terms, is_fallback, assigned_by, reason, event, forward_due, follow_up_due)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"""

# Each complaint with its current (latest) assignment.
_CURRENT = """
    FROM complaints c
    JOIN LATERAL (SELECT * FROM assignments WHERE complaint_id = c.complaint_id
                  ORDER BY sequence DESC LIMIT 1) a ON true"""


def _digests(received: ComplaintReceived) -> list[str]:
    """An event from an intake of before sealed contacts carries the plain reporter and no digests."""
    reporter = received.reporter
    return received.contact_digests or [contact_digest(a) for a in (reporter.phone, reporter.channel_user_id) if a]


class RouterRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def change_citizen_contact(self, change: CitizenContactChanged) -> int:
        """Every complaint of this citizen on this channel is answered at the new address from now on (the
        old number may soon be someone else's); returns how many. Applying it twice changes nothing."""
        old = [contact_digest(a) for a in (change.old.phone, change.old.channel_user_id) if a]
        new_digests = [contact_digest(a) for a in (change.new.phone, change.new.channel_user_id) if a]
        new = json.dumps(change.new.model_dump(mode="json", exclude_none=True))
        async with self.pool.acquire() as conn, conn.transaction():
            # The plain reporter changes only where the unit may see it (it is empty for anonim and rahasia).
            ids = await conn.fetch(
                """UPDATE complaints SET contact_digests = $3::text[],
                          reporter = CASE WHEN anonymity = 'none' THEN reporter || $4::jsonb ELSE reporter END
                   WHERE channel = $1 AND contact_digests && $2::text[]
                   RETURNING complaint_id""",
                change.channel, old, new_digests, new)
            # The stored assignments are what status changes (and so the citizen's messages) are built from:
            # their sealed contact becomes the intake's sealed new address (the plain one on events stored
            # before contacts were sealed), and the unit's copy of the identity, where there is one, follows.
            await conn.execute(
                """UPDATE assignments
                   SET event = CASE WHEN jsonb_typeof(e -> 'reporter_for_unit') = 'object'
                                    THEN jsonb_set(e, '{reporter_for_unit}', (e -> 'reporter_for_unit') || $2::jsonb)
                                    ELSE e END
                   FROM (SELECT assignment_id AS id,
                                CASE WHEN event ->> 'sealed_contact' IS NOT NULL
                                     THEN jsonb_set(event, '{sealed_contact}',
                                                    to_jsonb(COALESCE($3::text, event ->> 'sealed_contact')))
                                     ELSE jsonb_set(event, '{citizen_contact}',
                                                    COALESCE(event -> 'citizen_contact', '{}'::jsonb) || $2::jsonb)
                                END AS e
                         FROM assignments WHERE complaint_id = ANY($1::uuid[])) changed
                   WHERE assignment_id = changed.id""",
                [row["complaint_id"] for row in ids], new, change.new_sealed)
        return len(ids)

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
                                           anonymity, reporter, category, received_at, correlation_id,
                                           contact_digests)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                   ON CONFLICT (complaint_id) DO NOTHING""",
                [(e.complaint_id, e.tracking_code, e.channel, e.channel_message_id, e.text, e.anonymity.value,
                  e.reporter.model_dump_json(), e.category, e.received_at, e.correlation_id, _digests(e))
                 for e in unique])
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

    async def reassign(self, complaint_ref: str, decide: Callable[[ComplaintAssigned, str], ComplaintAssigned],
                       returned_by: str | None = None) -> tuple[ComplaintAssigned, ComplaintStatusChanged | None]:
        """Add the next assignment of a complaint; `decide` gets the current one and the status (and may refuse).

        The complaint starts again as `assigned` with the new unit. `returned_by` (a unit's
        "not our authority") also records that as a status change, in the same transaction.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            complaint = await self._lock(conn, complaint_ref)
            assigned = decide(complaint.assignment, complaint.status)
            await self._insert(conn, assigned)
            returned = None
            if returned_by is not None:
                returned = decisions.returned(complaint, assigned, returned_by)
                await self._insert_change(conn, returned)
            await conn.execute(
                """UPDATE complaints SET status = $3, closed_at = NULL, close_due = NULL, answer_due = NULL,
                                         status_sequence = status_sequence + $2
                   WHERE complaint_id = $1""", complaint.complaint_id, 1 if returned else 0, ASSIGNED.value)
            return assigned, returned

    async def change_status(self, complaint_ref: str, action: lifecycle.UnitAction, *, actor: str,
                            unit_code: str | None, message: str | None, close_due: Callable[[str], date],
                            ) -> ComplaintStatusChanged | None:
        """A unit's step (`unit_code`: only on its own complaint; None: an operator's). None: nothing
        to do (the step was taken already). The change is stored with its event for the outbox."""
        async with self.pool.acquire() as conn, conn.transaction():
            complaint = await self._lock(conn, complaint_ref)
            change = decisions.step(complaint, action, actor=actor, unit_code=unit_code, message=message,
                                    close_due=close_due)
            if change is None:
                return None
            await self._take_step(conn, change)
            await self._mirror(conn, change)
            return change

    async def record_reply(self, reply: CitizenReplied, answer_due: Callable[[str], date],
                           ) -> ComplaintStatusChanged | None:
        """The citizen's reply to a response: the complaint stays open (no automatic closure) and its
        unit answers again by `answer_due(unit)`. None: recorded already (a redelivery). Refused
        (TransitionRefused) before any response, or once done or closed."""
        async with self.pool.acquire() as conn, conn.transaction():
            # A merged complaint's reply goes to the surviving one, whose unit answers both: that one is
            # locked first, in the order _mirror takes them.
            survivor = await conn.fetchval("SELECT merged_into FROM complaints WHERE complaint_id::text = $1",
                                           reply.complaint_id)
            target = await self._lock(conn, str(survivor)) if survivor else None
            complaint = await self._lock(conn, reply.complaint_id, merged=True)
            decisions.reply_target(complaint, reply)
            if await conn.fetchval("SELECT 1 FROM citizen_replies WHERE reply_id = $1", reply.reply_id):
                return None
            if target is not None:  # judged by the merged complaint's reporter: it is theirs
                complaint = dataclasses.replace(target, contact_digests=complaint.contact_digests)
            change = decisions.reply(complaint, reply, answer_due)
            await self._take_step(conn, change)
            await conn.execute("INSERT INTO citizen_replies (reply_id, complaint_id, change_id, received_at)"
                               " VALUES ($1, $2, $3, $4)", reply.reply_id, uuid.UUID(complaint.complaint_id),
                               change.change_id, reply.received_at)
            await self._mirror(conn, change)
            return change

    async def sweep(self, today: date, coordinator_email: str | None, limit: int = 200,
                    ) -> list[ComplaintEscalated | ComplaintStatusChanged]:
        """Escalate what is overdue (once per assignment and stage; a reply left unanswered counts once per
        assignment too) and close what was answered and then
        left silent until its close_due. Replicas may sweep at once: the unique escalation key and
        SKIP LOCKED keep every step single."""
        events: list[ComplaintEscalated | ComplaintStatusChanged] = []
        async with self.pool.acquire() as conn, conn.transaction():
            # Which stage binds in which status is the lifecycle's (escalation.PENDING_IN); the query
            # joins on it, and takes each complaint's deadline of that stage.
            stages, statuses = escalation.pending_pairs()
            overdue = await conn.fetch(
                f"""SELECT a.event, s.stage, s.due {_CURRENT}
                    CROSS JOIN LATERAL (VALUES ('forward', a.forward_due), ('follow_up', a.follow_up_due),
                                               ('reply', c.answer_due)) s (stage, due)
                    JOIN unnest($3::text[], $4::text[]) p (stage, status) ON p.stage = s.stage AND p.status = c.status
                    WHERE c.status = ANY($4::text[]) AND s.due < $1 AND c.merged_into IS NULL
                      AND NOT EXISTS (SELECT 1 FROM escalations e
                                      WHERE e.assignment_id = a.assignment_id AND e.stage = s.stage)
                    ORDER BY s.due LIMIT $2""", today, limit, stages, statuses)
            for row in overdue:
                assignment = ComplaintAssigned.model_validate_json(row["event"])
                event = lifecycle.escalated(assignment, EscalationStage(row["stage"]), row["due"], coordinator_email)
                inserted = await conn.fetchval(
                    """INSERT INTO escalations (escalation_id, complaint_id, assignment_id, stage, due, event)
                       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true""",
                    event.escalation_id, event.complaint_id, assignment.assignment_id, event.stage.value, event.due,
                    event.model_dump_json())
                if inserted:
                    events.append(event)
            # escalation.closes_silently: answered, and silent until its close_due.
            silent = await conn.fetch(
                f"""SELECT c.complaint_id, c.tracking_code, c.status, c.status_sequence, c.contact_digests,
                           a.event {_CURRENT}
                    WHERE c.status = $3 AND c.close_due <= $1 AND c.merged_into IS NULL
                    ORDER BY c.close_due LIMIT $2 FOR UPDATE OF c SKIP LOCKED""",
                today, limit, ComplaintStatus.RESPONDED.value)
            for row in silent:
                change = decisions.closed(_complaint(row))
                effects = lifecycle.effects_of(change.status)
                await self._insert_change(conn, change)
                await conn.execute(
                    """UPDATE complaints SET status = $3, status_sequence = $2,
                                             closed_at = CASE WHEN $4 THEN now() ELSE closed_at END
                       WHERE complaint_id = $1""", row["complaint_id"], change.sequence, change.status.value,
                    effects.closes)
                await self._mirror(conn, change)
                events.append(change)
        return events

    async def inbox(self, unit_code: str, finished_limit: int = 50) -> list[dict]:
        """The unit's complaints as they stand now: open ones, and the latest finished ones."""
        rows = await self.pool.fetch(
            f"""(SELECT c.complaint_id, c.tracking_code, c.status, c.received_at, c.close_due, c.answer_due,
                        c.closed_at, a.forward_due, a.follow_up_due, a.event {_CURRENT}
                 WHERE a.unit_code = $1 AND c.status = ANY($3::text[]) AND c.merged_into IS NULL)
                UNION ALL
                (SELECT c.complaint_id, c.tracking_code, c.status, c.received_at, c.close_due, c.answer_due,
                        c.closed_at, a.forward_due, a.follow_up_due, a.event {_CURRENT}
                 WHERE a.unit_code = $1 AND c.status = ANY($4::text[]) AND c.merged_into IS NULL
                 ORDER BY c.closed_at DESC LIMIT $2)""", unit_code, finished_limit,
            sorted(s.value for s in lifecycle.OPEN), sorted(s.value for s in lifecycle.FINISHED))
        return [{**dict(row), "complaint_id": str(row["complaint_id"]),
                 "assignment": ComplaintAssigned.model_validate_json(row["event"])} for row in rows]

    async def open_cases(self) -> list[dict]:
        """Every open complaint with its current assignment and the escalations sent for it, for the
        back-office's deadlines page."""
        rows = await self.pool.fetch(
            f"""SELECT c.complaint_id, c.tracking_code, c.status, c.received_at, c.close_due, c.answer_due,
                       a.forward_due, a.follow_up_due, a.event,
                       ARRAY(SELECT e.stage FROM escalations e WHERE e.assignment_id = a.assignment_id
                             ORDER BY e.due, e.escalated_at) AS escalations {_CURRENT}
                WHERE c.status = ANY($1::text[]) AND c.merged_into IS NULL""", sorted(s.value for s in lifecycle.OPEN))
        return [{**dict(row), "complaint_id": str(row["complaint_id"]),
                 "assignment": ComplaintAssigned.model_validate_json(row["event"])} for row in rows]

    async def search(self, criteria: SearchCriteria, limit: int = 100) -> list[dict]:
        """Complaints matching every given criterion, newest first (the back-office's search)."""
        where, args = ["true"], []

        def arg(value: object) -> str:
            args.append(value)
            return f"${len(args)}"

        if criteria.tracking_code:
            where.append(f"c.tracking_code = {arg(criteria.tracking_code)}")
        for word in criteria.words:  # each word somewhere in the text, as typed (no stemming)
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(f"a.event ->> 'text' ILIKE '%' || {arg(escaped)} || '%'")
        for column, value in (("a.unit_code", criteria.unit), ("c.status", criteria.status),
                              ("c.channel", criteria.channel),
                              ("a.event -> 'place' ->> 'kecamatan'", criteria.kecamatan),
                              ("a.event -> 'place' ->> 'kelurahan'", criteria.kelurahan)):
            if value:
                where.append(f"{column} = {arg(value)}")
        if criteria.received_from:
            where.append(f"c.received_at >= {arg(datetime.combine(criteria.received_from, time(), WIB))}")
        if criteria.received_to:
            end = datetime.combine(criteria.received_to + timedelta(days=1), time(), WIB)
            where.append(f"c.received_at < {arg(end)}")
        rows = await self.pool.fetch(
            f"""SELECT c.complaint_id, c.tracking_code, c.status, c.channel, c.received_at, a.event {_CURRENT}
                WHERE {" AND ".join(where)} ORDER BY c.received_at DESC LIMIT {arg(limit)}""", *args)
        return [{**dict(row), "complaint_id": str(row["complaint_id"]),
                 "assignment": ComplaintAssigned.model_validate_json(row["event"])} for row in rows]

    async def complaint_for_unit(self, complaint_ref: str, unit_code: str | None) -> dict:
        """One complaint as its current unit sees it, with its status changes; NotFound for any other unit.
        unit_code None: whichever unit has it (the back-office)."""
        row = await self.pool.fetchrow(
            f"""SELECT c.complaint_id, c.tracking_code, c.status, c.received_at, c.close_due, c.answer_due,
                       a.forward_due, a.follow_up_due, a.event,
                       (SELECT m.tracking_code FROM complaints m WHERE m.complaint_id = c.merged_into) AS merged_into
                       {_CURRENT}
                WHERE (c.complaint_id::text = $1 OR c.tracking_code = $1)
                      AND ($2::text IS NULL OR a.unit_code = $2)""",
            complaint_ref, unit_code)
        if row is None:
            raise NotFound(complaint_ref)
        changes = await self.pool.fetch(
            "SELECT event FROM status_changes WHERE complaint_id = $1 ORDER BY sequence", row["complaint_id"])
        return {**dict(row), "complaint_id": str(row["complaint_id"]),
                "assignment": ComplaintAssigned.model_validate_json(row["event"]),
                "changes": [ComplaintStatusChanged.model_validate_json(c["event"]) for c in changes]}

    async def unchecked_for_duplicates(self, limit: int = 100) -> list[Sighting]:
        """Complaints not yet compared with the open ones, oldest first."""
        return [_sighting(row) for row in await self.pool.fetch(
            f"""SELECT {_SIGHTING} WHERE NOT c.duplicates_checked ORDER BY c.received_at LIMIT $1""", limit)]

    async def open_since(self, since: datetime, limit: int = 1000) -> list[Sighting]:
        """Complaints still open, received since `since` (newest first, at most `limit`)."""
        return [_sighting(row) for row in await self.pool.fetch(
            f"""SELECT {_SIGHTING} WHERE c.received_at >= $1 AND c.status <> ALL($2::text[])
                ORDER BY c.received_at DESC LIMIT $3""", since, list(FINISHED), limit)]

    async def record_duplicates(self, checked: list[str], links: list[tuple[str, str, float, str]]) -> None:
        """The links found (complaint, duplicate_of, similarity, reason) and the complaints looked at, at once."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                """INSERT INTO duplicate_links (complaint_id, duplicate_of, similarity, reason)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""", links)
            await conn.execute("UPDATE complaints SET duplicates_checked = true WHERE complaint_id = ANY($1::uuid[])",
                               checked)

    async def possible_duplicates(self, complaint_id: str, unit_code: str | None) -> list[dict]:
        """The complaints linked to this one either way, as `unit_code` may see them (None: every unit's)."""
        rows = await self.pool.fetch(
            f"""SELECT c.tracking_code, c.status, c.received_at, a.unit_code, l.similarity, l.reason,
                       c.merged_into IS NOT NULL AS merged {_CURRENT}
                JOIN duplicate_links l ON (l.complaint_id = $1 AND l.duplicate_of = c.complaint_id)
                                       OR (l.duplicate_of = $1 AND l.complaint_id = c.complaint_id)
                WHERE ($2::text IS NULL OR a.unit_code = $2)
                ORDER BY l.similarity DESC""", uuid.UUID(complaint_id), unit_code)
        return [dict(row) for row in rows]

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

    async def contact_viewed(self, operator: str, complaint_id: str) -> None:
        """The back-office showed this operator the reporter's contact: kept for the PPID's own audit."""
        await self.pool.execute("INSERT INTO contact_views (operator, complaint_id) VALUES ($1, $2)",
                                operator, complaint_id)

    async def contact_views(self, limit: int = 500) -> list[dict]:
        """The latest views of reporters' contacts in the back-office, newest first."""
        rows = await self.pool.fetch(
            """SELECT v.operator, v.viewed_at, c.tracking_code
               FROM contact_views v JOIN complaints c USING (complaint_id) ORDER BY v.viewed_at DESC LIMIT $1""", limit)
        return [dict(row) for row in rows]

    async def mark_published(self, *events: OutboxEvent) -> None:
        for kind, (table, key) in _OUTBOX.items():
            if ids := [getattr(e, key) for e in events if isinstance(e, kind)]:
                await self.pool.execute(f"UPDATE {table} SET published_at = now()"
                                        f" WHERE {key} = ANY($1::uuid[]) AND published_at IS NULL", ids)

    async def unpublished(self, older_than_seconds: float, limit: int = 100) -> list[OutboxEvent]:
        """Events stored but not published (the router died in between, or Kafka was down), oldest first."""
        rows = await self.pool.fetch(
            """WITH cutoff AS (SELECT now() - make_interval(secs => $1) AS at)
               (SELECT 'a' AS kind, event, assigned_at AS at FROM assignments, cutoff
                WHERE published_at IS NULL AND assigned_at < cutoff.at)
               UNION ALL (SELECT 's', event, changed_at FROM status_changes, cutoff
                          WHERE published_at IS NULL AND changed_at < cutoff.at)
               UNION ALL (SELECT 'e', event, escalated_at FROM escalations, cutoff
                          WHERE published_at IS NULL AND escalated_at < cutoff.at)
               ORDER BY at LIMIT $2""", older_than_seconds, limit)
        models = {"a": ComplaintAssigned, "s": ComplaintStatusChanged, "e": ComplaintEscalated}
        return [models[r["kind"]].model_validate_json(r["event"]) for r in rows]

    @staticmethod
    async def _lock(conn: asyncpg.Connection, complaint_ref: str, merged: bool = False) -> Complaint:
        """The complaint (by id or tracking code) with its current assignment, locked until the end. One merged
        into another takes no step of its own (TransitionRefused) unless `merged`: it follows the other's."""
        row = await conn.fetchrow(
            f"""SELECT c.complaint_id, c.tracking_code, c.status, c.status_sequence, c.contact_digests,
                       c.merged_into, a.event {_CURRENT}
                WHERE c.complaint_id::text = $1 OR c.tracking_code = $1 FOR UPDATE OF c""", complaint_ref)
        if row is None:
            raise NotFound(complaint_ref)
        if row["merged_into"] is not None and not merged:
            raise lifecycle.TransitionRefused("aduan ini sudah digabung dengan aduan lain; tindak lanjuti aduan itu")
        return _complaint(row)

    async def _mirror(self, conn: asyncpg.Connection, change: ComplaintStatusChanged) -> None:
        """The surviving complaint's step, taken by each complaint merged into it, stored for the outbox relay
        to publish: their citizens hear the same outcome, their LAPOR! reports and status pages follow."""
        merged = await conn.fetch("SELECT complaint_id FROM complaints WHERE merged_into = $1 ORDER BY complaint_id",
                                  uuid.UUID(change.complaint_id))
        for row in merged:
            complaint = await self._lock(conn, str(row["complaint_id"]), merged=True)
            mirrored = lifecycle.status_changed(
                complaint.assignment, sequence=complaint.status_sequence + 1, status=change.status,
                actor=change.actor, message=change.message, close_due=change.close_due, answer_due=change.answer_due)
            await self._take_step(conn, mirrored)

    async def _take_step(self, conn: asyncpg.Connection, change: ComplaintStatusChanged) -> None:
        """A status change stored with its event (for the outbox), and its complaint moved to it."""
        effects = lifecycle.effects_of(change.status)
        await self._insert_change(conn, change)
        await conn.execute(
            """UPDATE complaints SET status = $2, status_sequence = $3, close_due = $4, answer_due = $5,
                      first_response_at = CASE WHEN $6 THEN coalesce(first_response_at, now())
                                               ELSE first_response_at END,
                      closed_at = CASE WHEN $7 THEN now() ELSE closed_at END
               WHERE complaint_id = $1""",
            uuid.UUID(change.complaint_id), change.status.value, change.sequence, change.close_due, change.answer_due,
            effects.first_response, effects.closes)

    async def merge(self, complaint_ref: str, other_ref: str, unit_code: str | None, actor: str) -> tuple[str, str]:
        """Merge the later of two open complaints linked as possible duplicates into the earlier one; both must
        be `unit_code`'s (None: any unit's, the back-office). Returns (merged, surviving) tracking codes."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"""SELECT c.complaint_id, c.tracking_code, c.received_at, c.status, c.merged_into, a.unit_code,
                           EXISTS (SELECT 1 FROM complaints m WHERE m.merged_into = c.complaint_id) AS survivor
                    {_CURRENT} WHERE c.complaint_id::text = ANY($1::text[]) OR c.tracking_code = ANY($1::text[])
                    ORDER BY c.complaint_id FOR UPDATE OF c""", [complaint_ref, other_ref])
            if len(rows) != 2 or any(unit_code is not None and r["unit_code"] != unit_code for r in rows):
                raise NotFound(complaint_ref)
            earlier, later = sorted(rows, key=lambda r: (r["received_at"], r["tracking_code"]))
            if any(r["status"] not in lifecycle.OPEN or r["merged_into"] is not None for r in rows) or (
                    later["survivor"]):
                raise lifecycle.TransitionRefused("hanya aduan yang masih terbuka dan belum digabung dapat digabung")
            if earlier["unit_code"] != later["unit_code"]:
                raise lifecycle.TransitionRefused("kedua aduan harus berada di unit yang sama")
            if not await conn.fetchval(
                    """SELECT 1 FROM duplicate_links WHERE (complaint_id, duplicate_of) IN (($1, $2), ($2, $1))""",
                    later["complaint_id"], earlier["complaint_id"]):
                raise lifecycle.TransitionRefused("kedua aduan tidak ditandai sebagai kemungkinan duplikat")
            await conn.execute("UPDATE complaints SET merged_into = $2, merged_by = $3, merged_at = now()"
                               " WHERE complaint_id = $1", later["complaint_id"], earlier["complaint_id"], actor)
            return later["tracking_code"], earlier["tracking_code"]

    @staticmethod
    async def _insert_change(conn: asyncpg.Connection, change: ComplaintStatusChanged) -> None:
        await conn.execute(
            """INSERT INTO status_changes (change_id, complaint_id, sequence, status, actor, assignment_sequence,
                                           event) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            change.change_id, change.complaint_id, change.sequence, change.status.value, change.actor,
            change.assignment_sequence, change.model_dump_json())

    @staticmethod
    async def _insert(conn: asyncpg.Connection, assigned: ComplaintAssigned) -> None:
        await conn.execute(_INSERT_ASSIGNMENT, *_assignment_row(assigned))


# A complaint as the duplicate finder compares it: the kelurahan is the first assignment's (the router's
# reading of the text completes what the citizen gave).
_SIGHTING = """c.complaint_id, c.text, c.received_at, c.contact_digests,
               f.event -> 'place' ->> 'kelurahan' AS kelurahan
               FROM complaints c JOIN assignments f ON f.complaint_id = c.complaint_id AND f.sequence = 1"""


def _sighting(row: asyncpg.Record) -> Sighting:
    return Sighting(str(row["complaint_id"]), row["text"], row["received_at"], row["kelurahan"],
                    frozenset(row["contact_digests"] or ()))


def _complaint(row: asyncpg.Record) -> Complaint:
    return Complaint(complaint_id=str(row["complaint_id"]), tracking_code=row["tracking_code"], status=row["status"],
                     status_sequence=row["status_sequence"], contact_digests=list(row["contact_digests"] or []),
                     assignment=ComplaintAssigned.model_validate_json(row["event"]))


def _assignment_row(a: ComplaintAssigned) -> tuple:
    return (a.assignment_id, a.complaint_id, a.sequence, a.unit.code, a.rule_id, a.ruleset_version,
            a.matched_terms, a.is_fallback, a.assigned_by, a.reason, a.model_dump_json(), a.forward_due,
            a.follow_up_due)
