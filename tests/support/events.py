"""Building test events the way the intakes do."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from services.router import lifecycle
from services.router.routing.assignment import build_assignment
from services.router.routing.rules import load_ruleset
from shared.contracts import (
    Anonymity,
    Channel,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintReceived,
    ComplaintStatus,
    ComplaintStatusChanged,
    EscalationStage,
    LaporReportLinked,
    Place,
    Reporter,
)


def received(text: str = "Petugas loket minta imbalan untuk tanda tangan surat", *,
             channel: str = Channel.WEB, anonymity: Anonymity = Anonymity.NONE,
             reporter: Reporter | None = None, message_id: str | None = None,
             place: Place | None = None) -> ComplaintReceived:
    return ComplaintReceived.new(
        channel=channel, channel_message_id=message_id or f"test-{uuid.uuid4()}", text=text,
        producer="tests", anonymity=anonymity, place=place,
        reporter=reporter or Reporter(name="Siti Aminah", phone="+6281234567890", email="siti@example.id"),
    )


def assignment_for(event: ComplaintReceived, sequence: int = 1) -> ComplaintAssigned:
    """What the router decides for `event` with the shipped rules."""
    return build_assignment(event, load_ruleset().route(event.text, event.channel), sequence, now=datetime.now(UTC))


def assigned(text: str = "Petugas loket minta imbalan untuk tanda tangan surat", **kwargs) -> ComplaintAssigned:
    return assignment_for(received(text, **kwargs))


def status_changed(assigned: ComplaintAssigned, status: ComplaintStatus, sequence: int = 1,
                   message: str | None = None) -> ComplaintStatusChanged:
    """A change of `assigned`'s complaint, built by the router's own lifecycle code."""
    return lifecycle.status_changed(
        assigned, sequence=sequence, status=status, actor=f"unit:{assigned.unit.code}", message=message,
        close_due=date.today() + timedelta(days=14) if status == ComplaintStatus.RESPONDED else None)


def escalated(assigned: ComplaintAssigned, stage: EscalationStage = EscalationStage.FOLLOW_UP,
              coordinator_email: str | None = "ppid@kedirikota.go.id") -> ComplaintEscalated:
    return lifecycle.escalated(assigned, stage, assigned.follow_up_due or date.today(), coordinator_email)


def lapor_linked(assigned: ComplaintAssigned, lapor_tracking_id: str) -> LaporReportLinked:
    """What lapor_sync publishes once the complaint has its LAPOR! report."""
    return LaporReportLinked(
        complaint_id=assigned.complaint_id, tracking_code=assigned.tracking_code,
        lapor_tracking_id=lapor_tracking_id, lapor_status="verifikasi", producer="lapor-sync",
        correlation_id=assigned.correlation_id)
