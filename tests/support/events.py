"""Building test events the way the intakes do."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from services.router.assignment import build_assignment
from services.router.rules import load_ruleset
from shared.contracts import (
    Anonymity,
    Channel,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintReceived,
    ComplaintStatus,
    ComplaintStatusChanged,
    EscalationStage,
    Reporter,
    status_change_id_for,
)


def received(text: str = "Petugas loket minta imbalan untuk tanda tangan surat", *,
             channel: str = Channel.WEB, anonymity: Anonymity = Anonymity.NONE,
             reporter: Reporter | None = None, message_id: str | None = None) -> ComplaintReceived:
    return ComplaintReceived.new(
        channel=channel, channel_message_id=message_id or f"test-{uuid.uuid4()}", text=text,
        producer="tests", anonymity=anonymity,
        reporter=reporter or Reporter(name="Siti Aminah", phone="+6281234567890", email="siti@example.id"),
    )


def assignment_for(event: ComplaintReceived, sequence: int = 1) -> ComplaintAssigned:
    """What the router decides for `event` with the shipped rules."""
    return build_assignment(event, load_ruleset().route(event.text, event.channel), sequence)


def assigned(text: str = "Petugas loket minta imbalan untuk tanda tangan surat", **kwargs) -> ComplaintAssigned:
    return assignment_for(received(text, **kwargs))


def status_changed(assigned: ComplaintAssigned, status: ComplaintStatus, sequence: int = 1,
                   message: str | None = None) -> ComplaintStatusChanged:
    """A change of `assigned`'s complaint as the router publishes it."""
    return ComplaintStatusChanged(
        change_id=status_change_id_for(assigned.complaint_id, sequence), sequence=sequence,
        complaint_id=assigned.complaint_id, tracking_code=assigned.tracking_code, channel=assigned.channel,
        status=status, message=message, actor=f"unit:{assigned.unit.code}", unit=assigned.unit,
        assignment_sequence=assigned.sequence, citizen_contact=assigned.citizen_contact,
        close_due=date.today() + timedelta(days=14) if status == ComplaintStatus.RESPONDED else None,
        producer="tests", correlation_id=assigned.correlation_id)


def escalated(assigned: ComplaintAssigned, stage: EscalationStage = EscalationStage.FOLLOW_UP,
              coordinator_email: str | None = "ppid@kedirikota.go.id") -> ComplaintEscalated:
    return ComplaintEscalated(
        escalation_id=str(uuid.uuid5(uuid.UUID(assigned.assignment_id), f"escalation:{stage}")),
        complaint_id=assigned.complaint_id, tracking_code=assigned.tracking_code, stage=stage,
        due=assigned.follow_up_due or date.today(), unit=assigned.unit, assignment_sequence=assigned.sequence,
        coordinator_email=coordinator_email, producer="tests", correlation_id=assigned.correlation_id)
