"""Turning a routing decision into the ComplaintAssigned event: pure, no I/O."""

from __future__ import annotations

import uuid

from services.router.rules import Decision
from shared.contracts import ComplaintAssigned, ComplaintReceived

PRODUCER = "router"


def assignment_id_for(complaint_id: str, sequence: int) -> str:
    """Deterministic, so the same decision replayed has the same id downstream."""
    return str(uuid.uuid5(uuid.UUID(complaint_id), f"assignment:{sequence}"))


def build_assignment(received: ComplaintReceived, decision: Decision, sequence: int) -> ComplaintAssigned:
    hides_identity = received.anonymity.hides_identity
    return ComplaintAssigned(
        producer=PRODUCER,
        correlation_id=received.correlation_id,
        assignment_id=assignment_id_for(received.complaint_id, sequence),
        sequence=sequence,
        complaint_id=received.complaint_id,
        tracking_code=received.tracking_code,
        channel=received.channel,
        text=received.text,
        anonymity=received.anonymity,
        received_at=received.received_at,
        # The unit never sees who reported when the reporter asked for anonim or rahasia.
        reporter_for_unit=None if hides_identity else received.reporter,
        citizen_contact=received.reporter,
        unit=decision.unit,
        rule_id=decision.rule_id,
        ruleset_version=decision.ruleset_version,
        matched_terms=decision.matched_terms,
        is_fallback=decision.is_fallback,
    )
