"""Turning a routing decision into the ComplaintAssigned event: pure, no I/O, the moment passed in."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.router.lifecycle.working_days import WorkingCalendar
from services.router.routing.rules import Decision
from shared.contracts import ComplaintAssigned, ComplaintReceived, Reporter, Unit, reply_gateway_of
from shared.places import complete
from shared.units import Deadlines

PRODUCER = "router"


def assignment_id_for(complaint_id: str, sequence: int) -> str:
    """Deterministic, so the same decision replayed has the same id downstream."""
    return str(uuid.uuid5(uuid.UUID(complaint_id), f"assignment:{sequence}"))


CALENDAR = WorkingCalendar()


def build_assignment(received: ComplaintReceived, decision: Decision, sequence: int,
                     calendar: WorkingCalendar = CALENDAR, *, now: datetime) -> ComplaintAssigned:
    """The first assignment, decided `now`: the unit has `forward` working days from the complaint's
    receipt to take it on, and `follow_up` from now to answer."""
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
        sealed_contact=received.sealed_contact,
        # An event from an intake of before sealed contacts: its contact, as it came, for the notifier.
        citizen_contact=received.reporter if received.sealed_contact is None else Reporter(),
        reply_gateway=reply_gateway_of(received.channel, received.channel_message_id),
        unit=decision.unit,
        rule_id=decision.rule_id,
        ruleset_version=decision.ruleset_version,
        matched_terms=decision.matched_terms,
        is_fallback=decision.is_fallback,
        attachments=received.attachments,
        location=received.location,
        place=complete(received.place, received.text),
        forward_due=calendar.add_working_days(received.received_at, decision.deadlines.forward),
        follow_up_due=calendar.add_working_days(now, decision.deadlines.follow_up),
    )


MANUAL_RULE_ID = "manual"


class ReassignmentRefused(ValueError):
    """A re-assignment that must not happen (same unit, or a unit moving what is not its own)."""


def build_reassignment(current: ComplaintAssigned, unit: Unit, *, ruleset_version: str, deadlines: Deadlines,
                       assigned_by: str, reason: str, calendar: WorkingCalendar = CALENDAR,
                       now: datetime) -> ComplaintAssigned:
    """The next assignment of a complaint, made by a person `now`: everything else travels as it was."""
    if unit.code == current.unit.code:
        raise ReassignmentRefused(f"the complaint is already assigned to {unit.code}")
    sequence = current.sequence + 1
    return current.model_copy(update={
        "event_id": str(uuid.uuid4()),
        "occurred_at": now,
        "producer": PRODUCER,
        "assignment_id": assignment_id_for(current.complaint_id, sequence),
        "sequence": sequence,
        "unit": unit,
        "rule_id": MANUAL_RULE_ID,
        "ruleset_version": ruleset_version,
        "matched_terms": [],
        "is_fallback": False,
        "assigned_by": assigned_by,
        "reason": reason,
        # The new unit's clock starts now: it cannot be late for days it did not have the complaint.
        "forward_due": calendar.add_working_days(now, deadlines.forward),
        "follow_up_due": calendar.add_working_days(now, deadlines.follow_up),
    })
