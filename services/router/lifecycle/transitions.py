"""A complaint's life after routing, as pure rules: what each step may follow, and the events.

    assigned ──acknowledge──> acknowledged ──respond──> responded ──(silence)──> closed
        │                          │                     ^    │
        │                          │              respond│    │citizen replies
        │                          │                     │    v
        │                          │                     replied
        └──────respond / done──────┴────────done─────────┴─────┴──> done

A citizen's reply keeps an answered complaint open: no automatic closure, and the unit answers
again by `answer_due` (its follow-up deadline in working days).

"Not our authority" (LAPOR!'s *Bukan Wewenang*) is a re-assignment to triage and resets the
complaint to `assigned` with the new unit; done and closed complaints cannot be handed back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

from shared.contracts import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintStatusChanged,
    EscalationStage,
    status_change_id_for,
)
from shared.statuses import ASSIGNED, REPLY_ALLOWED_FROM, CaseStatus, ComplaintStatus

PRODUCER = "router"
OPEN: Final[frozenset[CaseStatus]] = frozenset(
    {ASSIGNED, ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.RESPONDED, ComplaintStatus.REPLIED})
FINISHED: Final[frozenset[CaseStatus]] = frozenset({ComplaintStatus.DONE, ComplaintStatus.CLOSED})
CITIZEN = "citizen"  # the actor of a reply
SYSTEM = "system"  # the actor of an automatic closure


class UnitAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESPOND = "respond"
    DONE = "done"


# What each action may follow, and where it leads.
_ALLOWED_FROM: dict[UnitAction, set[CaseStatus]] = {
    UnitAction.ACKNOWLEDGE: {ASSIGNED},
    UnitAction.RESPOND: set(OPEN),  # a unit may answer again (a correction, more detail)
    UnitAction.DONE: set(OPEN),
}
_LEADS_TO = {
    UnitAction.ACKNOWLEDGE: ComplaintStatus.ACKNOWLEDGED,
    UnitAction.RESPOND: ComplaintStatus.RESPONDED,
    UnitAction.DONE: ComplaintStatus.DONE,
}


class TransitionRefused(ValueError):
    """The step does not fit where the complaint stands (e.g. answering a closed complaint)."""


STATUS_WORDS: dict[str, str] = {  # for people: the inbox and error messages
    ASSIGNED: "baru", ComplaintStatus.ACKNOWLEDGED: "diproses", ComplaintStatus.RESPONDED: "ditanggapi",
    ComplaintStatus.DONE: "selesai", ComplaintStatus.CLOSED: "ditutup", ComplaintStatus.RETURNED: "dikembalikan",
    ComplaintStatus.REPLIED: "dibalas pelapor",
}


def next_status(current: str, action: UnitAction) -> ComplaintStatus | None:
    """The status `action` leads to from `current`; None when it is already done (a repeated click)."""
    if action is UnitAction.ACKNOWLEDGE and current != ASSIGNED and current in OPEN:
        return None
    if current not in _ALLOWED_FROM[action]:
        raise TransitionRefused(f"aduan berstatus {STATUS_WORDS.get(current, current)}: tidak dapat di-{action}")
    return _LEADS_TO[action]


@dataclass(frozen=True)
class Effects:
    """What reaching a status does to the complaint besides its status: the rules the database only records."""

    first_response: bool  # the unit's first answer, for the reports (set once, never moved)
    closes: bool  # the complaint is finished: it leaves the inbox's open list and the deadlines stop


def effects_of(status: ComplaintStatus) -> Effects:
    """A response or done is the unit's answer; done and an automatic closure finish the complaint."""
    return Effects(first_response=status in (ComplaintStatus.RESPONDED, ComplaintStatus.DONE),
                   closes=status in FINISHED)


def can_hand_back(current: str) -> None:
    if current not in OPEN:
        raise TransitionRefused(f"aduan berstatus {STATUS_WORDS.get(current, current)}: tidak dapat dikembalikan")


def can_take_reply(current: str) -> None:
    if current not in REPLY_ALLOWED_FROM:
        raise TransitionRefused(f"aduan berstatus {STATUS_WORDS.get(current, current)}: balasan pelapor tidak dapat"
                                " dicatat (hanya setelah tanggapan unit dan sebelum selesai atau ditutup)")


def close_due_on(status: ComplaintStatus, close_due: date) -> date | None:
    """Only a response starts the clock of the automatic closure; any other step stops it."""
    return close_due if status is ComplaintStatus.RESPONDED else None


def status_changed(assignment: ComplaintAssigned, *, sequence: int, status: ComplaintStatus, actor: str,
                   message: str | None = None, close_due: date | None = None,
                   answer_due: date | None = None) -> ComplaintStatusChanged:
    return ComplaintStatusChanged(
        producer=PRODUCER, correlation_id=assignment.correlation_id,
        change_id=status_change_id_for(assignment.complaint_id, sequence), sequence=sequence,
        complaint_id=assignment.complaint_id, tracking_code=assignment.tracking_code, channel=assignment.channel,
        status=status, message=message, actor=actor, unit=assignment.unit,
        assignment_sequence=assignment.sequence, sealed_contact=assignment.sealed_contact,
        citizen_contact=assignment.citizen_contact,
        reply_gateway=assignment.reply_gateway, close_due=close_due,
        answer_due=answer_due)


def escalated(assignment: ComplaintAssigned, stage: EscalationStage, due: date,
              coordinator_email: str | None) -> ComplaintEscalated:
    return ComplaintEscalated(
        producer=PRODUCER, correlation_id=assignment.correlation_id,
        escalation_id=str(uuid.uuid5(uuid.UUID(assignment.assignment_id), f"escalation:{stage}")),
        complaint_id=assignment.complaint_id, tracking_code=assignment.tracking_code, stage=stage, due=due,
        unit=assignment.unit, assignment_sequence=assignment.sequence, coordinator_email=coordinator_email)
