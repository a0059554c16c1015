"""What a step does to a complaint the repository has locked: pure, taken inside the repository's
transaction (the PostgreSQL one and the in-memory one alike), so that the rules are written once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from services.router import lifecycle
from services.router.application.ports import Complaint, NotFound
from shared.contracts import CitizenReplied, ComplaintAssigned, ComplaintStatusChanged
from shared.statuses import ComplaintStatus


def step(complaint: Complaint, action: lifecycle.UnitAction, *, actor: str, unit_code: str | None,
         message: str | None, close_due: Callable[[str], date]) -> ComplaintStatusChanged | None:
    """A unit's step on its own complaint (`unit_code`), an operator's on any (None); None: taken already."""
    current = complaint.assignment
    if unit_code is not None and current.unit.code != unit_code:
        raise NotFound(complaint.tracking_code)  # the same answer as for a complaint that does not exist
    status = lifecycle.next_status(complaint.status, action)
    if status is None:
        return None
    due = close_due(current.unit.code) if status is ComplaintStatus.RESPONDED else None
    return lifecycle.status_changed(current, sequence=complaint.status_sequence + 1, status=status, actor=actor,
                                    message=message, close_due=due)


def reply_target(complaint: Complaint, reply: CitizenReplied) -> None:
    """The reply names this complaint by its id and its code, or it is attached to nothing."""
    if complaint.tracking_code != reply.tracking_code:
        raise NotFound(reply.tracking_code)  # an intake's mistake; never attach a reply to another complaint


def reply(complaint: Complaint, reply: CitizenReplied, answer_due: Callable[[str], date]) -> ComplaintStatusChanged:
    """The citizen's reply to a response: the complaint stays open and the unit answers again by
    `answer_due(unit)`. Refused (TransitionRefused) before any response, once done or closed, and by phone
    from any number but the reporter's own."""
    lifecycle.can_take_reply(complaint.status)
    if reply.sender_digest is not None and reply.sender_digest not in complaint.contact_digests:
        raise lifecycle.TransitionRefused("a reply by phone is taken only from the reporter's own number")
    current = complaint.assignment
    return lifecycle.status_changed(current, sequence=complaint.status_sequence + 1, status=ComplaintStatus.REPLIED,
                                    actor=lifecycle.CITIZEN, message=reply.text,
                                    answer_due=answer_due(current.unit.code))


def returned(complaint: Complaint, assigned: ComplaintAssigned, returned_by: str) -> ComplaintStatusChanged:
    """"Not our authority" on the record: a status change of the unit's assignment, before the new one."""
    return lifecycle.status_changed(complaint.assignment, sequence=complaint.status_sequence + 1,
                                    status=ComplaintStatus.RETURNED, actor=returned_by, message=assigned.reason)


def closed(complaint: Complaint) -> ComplaintStatusChanged:
    """The automatic closure of an answered complaint the citizen left silent."""
    return lifecycle.status_changed(complaint.assignment, sequence=complaint.status_sequence + 1,
                                    status=ComplaintStatus.CLOSED, actor=lifecycle.SYSTEM)
