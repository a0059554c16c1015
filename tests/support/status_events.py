"""Building complaints.status.v1 events the way the router and lapor_sync publish them."""

from __future__ import annotations

from datetime import date

from shared.contracts import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintStatus,
    ComplaintStatusChanged,
    EscalationStage,
    LaporReportLinked,
    status_change_id_for,
)


def status_changed(assignment: ComplaintAssigned, sequence: int, status: ComplaintStatus,
                   message: str | None = None) -> ComplaintStatusChanged:
    return ComplaintStatusChanged(
        change_id=status_change_id_for(assignment.complaint_id, sequence), sequence=sequence,
        complaint_id=assignment.complaint_id, tracking_code=assignment.tracking_code, channel=assignment.channel,
        status=status, message=message, actor=f"unit:{assignment.unit.code}", unit=assignment.unit,
        assignment_sequence=assignment.sequence, citizen_contact=assignment.citizen_contact,
        producer="router", correlation_id=assignment.correlation_id)


def escalated(assignment: ComplaintAssigned, stage: EscalationStage = EscalationStage.FORWARD) -> ComplaintEscalated:
    return ComplaintEscalated(
        escalation_id=f"{assignment.assignment_id}:{stage}", complaint_id=assignment.complaint_id,
        tracking_code=assignment.tracking_code, stage=stage, due=date(2026, 1, 5), unit=assignment.unit,
        assignment_sequence=assignment.sequence, coordinator_email="ppid@kedirikota.go.id",
        producer="router", correlation_id=assignment.correlation_id)


def lapor_linked(assignment: ComplaintAssigned, lapor_tracking_id: str) -> LaporReportLinked:
    return LaporReportLinked(
        complaint_id=assignment.complaint_id, tracking_code=assignment.tracking_code,
        lapor_tracking_id=lapor_tracking_id, lapor_status="verifikasi", producer="lapor-sync",
        correlation_id=assignment.correlation_id)
