"""The router's Kafka consumers, as module-level handlers; services/router/app.py subscribes them to their
topics (the names carry the deployment's prefix) and their dependencies come from FastStream's context."""

from __future__ import annotations

from typing import Any

import structlog
from faststream import Context
from prometheus_client import Counter

from services.router.dependencies import DEPENDENCIES, RouterDependencies
from services.router.lifecycle import TransitionRefused
from shared.consumer import read_batch
from shared.contracts import CitizenContactChanged, CitizenReplied, ComplaintReceived
from shared.dead_letter import DeadLetters, Unprocessable

log = structlog.get_logger(__name__)

ASSIGNMENTS = Counter("aduan_assignments_total", "Assignments made, by unit and rule",
                      ["unit", "rule", "fallback"])


# Batches: one database transaction, concurrent publishes and one offset commit for up to
# `batch_size` complaints.
async def on_complaints_received(records: list[Any], deps: RouterDependencies = Context(DEPENDENCIES),
                                 dead_letters: DeadLetters = Context("dead_letters")) -> None:
    received = await read_batch(records, ComplaintReceived, dead_letters)
    if not received:
        return
    stored = await deps.casework.assign(received)
    # Published after the database commit and before the offset commit: a crash in between
    # republishes the stored events (same event_id), never a second decision.
    await deps.publisher.publish_all([s.event for s in stored if not s.published])
    for item in stored:
        a = item.event
        if item.created:
            ASSIGNMENTS.labels(a.unit.code, a.rule_id, str(a.is_fallback)).inc()
        log.info("complaint_assigned", complaint_id=a.complaint_id, correlation_id=a.correlation_id,
                 unit=a.unit.code, rule_id=a.rule_id, ruleset_version=a.ruleset_version,
                 is_fallback=a.is_fallback, redelivered=not item.created)


# Few and far between, so one at a time; a reply that does not fit (no response yet, already
# closed, unknown complaint) never will: it is dead-lettered with the reason.
async def on_citizen_replied(reply: CitizenReplied, deps: RouterDependencies = Context(DEPENDENCIES)) -> None:
    try:
        change = await deps.casework.take_reply(reply)
    except TransitionRefused as refused:
        raise Unprocessable(str(refused)) from refused
    log.info("citizen_reply_recorded", complaint_id=reply.complaint_id, correlation_id=reply.correlation_id,
             reply_id=reply.reply_id, redelivered=change is None)


# A WhatsApp citizen's new number or BSUID (their `system` message): answers go there from now on.
async def on_contact_changed(change: CitizenContactChanged, deps: RouterDependencies = Context(DEPENDENCIES)) -> None:
    complaints = await deps.casework.change_contact(change)
    log.info("citizen_contact_changed", change_id=change.change_id, channel=change.channel, complaints=complaints)
