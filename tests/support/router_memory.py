"""The router's casework repository in memory, for unit tests of the application layer
(services/router/application/): the same interface (CaseworkRepository) and the same decisions
(services/router/application/decisions.py) as the PostgreSQL adapter, without a database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.router import lifecycle
from services.router.application import decisions
from services.router.application.ports import Complaint, NotFound, OutboxEvent, StoredAssignment
from services.router.lifecycle import escalation
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
from shared.statuses import ASSIGNED


@dataclass
class StoredComplaint:
    received: ComplaintReceived
    assignments: list[ComplaintAssigned]
    contact_digests: list[str]
    status: str = ASSIGNED
    status_sequence: int = 0
    close_due: date | None = None
    answer_due: date | None = None
    first_response: bool = False
    closed: bool = False
    changes: list[ComplaintStatusChanged] = field(default_factory=list)

    @property
    def current(self) -> ComplaintAssigned:
        return self.assignments[-1]

    def locked(self) -> Complaint:
        return Complaint(complaint_id=self.received.complaint_id, tracking_code=self.received.tracking_code,
                         status=self.status, status_sequence=self.status_sequence,
                         contact_digests=list(self.contact_digests), assignment=self.current)


def _key(event: OutboxEvent) -> str:
    if isinstance(event, ComplaintAssigned):
        return event.assignment_id
    if isinstance(event, ComplaintStatusChanged):
        return event.change_id
    return event.escalation_id


class MemoryRepository:
    def __init__(self) -> None:
        self.complaints: dict[str, StoredComplaint] = {}
        self.escalations: dict[tuple[str, EscalationStage], ComplaintEscalated] = {}  # by assignment and stage
        self.replies: set[str] = set()
        self.outbox: dict[str, OutboxEvent] = {}  # every stored event, in order
        self.published: set[str] = set()

    def find(self, ref: str) -> StoredComplaint:
        for stored in self.complaints.values():
            if ref in (stored.received.complaint_id, stored.received.tracking_code):
                return stored
        raise NotFound(ref)

    def _store(self, event: OutboxEvent) -> None:
        self.outbox[_key(event)] = event

    def _record(self, stored: StoredComplaint, change: ComplaintStatusChanged) -> None:
        stored.changes.append(change)
        stored.status, stored.status_sequence = change.status, change.sequence
        effects = lifecycle.effects_of(change.status)
        stored.first_response = stored.first_response or effects.first_response
        stored.closed = stored.closed or effects.closes
        self._store(change)

    async def assign_batch(self, batch: list[ComplaintReceived],
                           decide: Callable[[ComplaintReceived], ComplaintAssigned]) -> list[StoredAssignment]:
        results = []
        for event in {event.complaint_id: event for event in batch}.values():
            if (stored := self.complaints.get(event.complaint_id)) is not None:
                first = stored.assignments[0]
                results.append(StoredAssignment(first, False, first.assignment_id in self.published))
                continue
            assigned = decide(event)
            digests = event.contact_digests or [contact_digest(a) for a in (event.reporter.phone,
                                                                            event.reporter.channel_user_id) if a]
            self.complaints[event.complaint_id] = StoredComplaint(event, [assigned], digests)
            self._store(assigned)
            results.append(StoredAssignment(assigned, True, False))
        return results

    async def reassign(self, complaint_ref: str, decide: Callable[[ComplaintAssigned, str], ComplaintAssigned],
                       returned_by: str | None = None) -> tuple[ComplaintAssigned, ComplaintStatusChanged | None]:
        stored = self.find(complaint_ref)
        locked = stored.locked()
        assigned = decide(locked.assignment, locked.status)
        returned = decisions.returned(locked, assigned, returned_by) if returned_by is not None else None
        if returned is not None:
            self._record(stored, returned)
        stored.assignments.append(assigned)
        self._store(assigned)
        stored.status, stored.close_due, stored.answer_due, stored.closed = ASSIGNED, None, None, False
        return assigned, returned

    async def change_status(self, complaint_ref: str, action: lifecycle.UnitAction, *, actor: str,
                            unit_code: str | None, message: str | None, close_due: Callable[[str], date],
                            ) -> ComplaintStatusChanged | None:
        stored = self.find(complaint_ref)
        change = decisions.step(stored.locked(), action, actor=actor, unit_code=unit_code, message=message,
                                close_due=close_due)
        if change is None:
            return None
        self._record(stored, change)
        stored.close_due, stored.answer_due = change.close_due, None
        return change

    async def record_reply(self, reply: CitizenReplied, answer_due: Callable[[str], date],
                           ) -> ComplaintStatusChanged | None:
        stored = self.find(reply.complaint_id)
        decisions.reply_target(stored.locked(), reply)
        if reply.reply_id in self.replies:
            return None
        change = decisions.reply(stored.locked(), reply, answer_due)
        self.replies.add(reply.reply_id)
        self._record(stored, change)
        stored.close_due, stored.answer_due = None, change.answer_due
        return change

    async def sweep(self, today: date, coordinator_email: str | None, limit: int = 200,
                    ) -> list[ComplaintEscalated | ComplaintStatusChanged]:
        due: list[tuple[date, ComplaintAssigned, EscalationStage]] = []
        for stored in self.complaints.values():
            current = stored.current
            done = frozenset(stage for (assignment_id, stage) in self.escalations
                             if assignment_id == current.assignment_id)
            deadlines = escalation.Deadlines(current.forward_due, current.follow_up_due, stored.answer_due)
            stages = escalation.stages_due(stored.status, deadlines, today, done)
            due += [(day, current, stage) for stage, day in stages]
        events: list[ComplaintEscalated | ComplaintStatusChanged] = []
        for day, assignment, stage in sorted(due, key=lambda item: item[0])[:limit]:
            event = lifecycle.escalated(assignment, stage, day, coordinator_email)
            self.escalations[assignment.assignment_id, stage] = event
            self._store(event)
            events.append(event)
        silent = [s for s in self.complaints.values() if escalation.closes_silently(s.status, s.close_due, today)]
        for stored in sorted(silent, key=lambda s: s.close_due or date.min)[:limit]:
            change = decisions.closed(stored.locked())
            self._record(stored, change)
            events.append(change)
        return events

    async def change_citizen_contact(self, change: CitizenContactChanged) -> int:
        old = {contact_digest(a) for a in (change.old.phone, change.old.channel_user_id) if a}
        new = [contact_digest(a) for a in (change.new.phone, change.new.channel_user_id) if a]
        moved = [s for s in self.complaints.values()
                 if s.received.channel == change.channel and old & set(s.contact_digests)]
        for stored in moved:
            stored.contact_digests = new
        return len(moved)

    async def inbox(self, unit_code: str, finished_limit: int = 50) -> list[dict[str, Any]]:
        return [self._row(s) for s in self.complaints.values() if s.current.unit.code == unit_code]

    async def complaint_for_unit(self, complaint_ref: str, unit_code: str) -> dict[str, Any]:
        stored = self.find(complaint_ref)
        if stored.current.unit.code != unit_code:
            raise NotFound(complaint_ref)
        return {**self._row(stored), "changes": list(stored.changes)}

    async def history(self, complaint_ref: str) -> list[dict[str, Any]]:
        try:
            stored = self.find(complaint_ref)
        except NotFound:
            return []
        return [{"sequence": a.sequence, "unit_code": a.unit.code, "rule_id": a.rule_id} for a in stored.assignments]

    async def mark_published(self, *events: OutboxEvent) -> None:
        self.published.update(_key(event) for event in events)

    async def unpublished(self, older_than_seconds: float, limit: int = 100) -> list[OutboxEvent]:
        return [event for key, event in self.outbox.items() if key not in self.published][:limit]

    @staticmethod
    def _row(stored: StoredComplaint) -> dict[str, Any]:
        return {"complaint_id": stored.received.complaint_id, "tracking_code": stored.received.tracking_code,
                "status": stored.status, "received_at": stored.received.received_at, "close_due": stored.close_due,
                "answer_due": stored.answer_due, "forward_due": stored.current.forward_due,
                "follow_up_due": stored.current.follow_up_due, "assignment": stored.current}

