"""The router's composition root: the whole wiring on one screen."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from faststream import Context
from faststream.kafka.message import KafkaMessage
from prometheus_client import Counter

from services.router.api import create_api
from services.router.assignment import build_assignment
from services.router.desk import Desk
from services.router.inbox import add_inbox
from services.router.lifecycle import TransitionRefused
from services.router.live_ruleset import LiveRuleSet
from services.router.repository import OutboxEvent, RouterRepository
from services.router.settings import RouterSettings
from services.router.working_days import WIB, WorkingCalendar
from shared.consumer import (
    WithHttpApi,
    batch_options,
    consumer_app,
    consumer_broker,
    read_batch,
    subscriber_options,
)
from shared.contracts import (
    CitizenContactChanged,
    CitizenReplied,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintReceived,
    ComplaintStatusChanged,
)
from shared.dead_letter import DeadLetters, Unprocessable
from shared.topics import Topics

SERVICE = "router"

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)

ASSIGNMENTS = Counter("aduan_assignments_total", "Assignments made, by unit and rule",
                      ["unit", "rule", "fallback"])


def build_app(settings: RouterSettings | None = None) -> WithHttpApi:
    settings = settings or RouterSettings()
    topics = Topics(settings.kafka.topic_prefix)
    broker = consumer_broker(SERVICE, settings)
    live = LiveRuleSet(settings.rules_file, settings.units_file)  # invalid rules: refuse to start
    calendar = WorkingCalendar(settings.collective_leave)
    state: dict = {}  # "db": RouterRepository, "tasks": background tasks; filled at start-up
    assigned_topic = broker.publisher(topics.assigned, schema=ComplaintAssigned)
    status_topic = broker.publisher(topics.status, schema=ComplaintStatusChanged | ComplaintEscalated,
                                    description="ComplaintStatusChanged and ComplaintEscalated, by event_type")

    async def publish(event: OutboxEvent) -> None:
        """Publish a stored event, then mark it so; assignments and status events go to their own topics."""
        topic = assigned_topic if isinstance(event, ComplaintAssigned) else status_topic
        await topic.publish(event, key=event.complaint_id.encode(), correlation_id=event.correlation_id)
        await state["db"].mark_published(event)

    dead_letters = DeadLetters(SERVICE, broker)  # for the batches, which read messages themselves

    # Batches: one database transaction, concurrent publishes and one offset commit for up to
    # `batch_size` complaints.
    @broker.subscriber(topics.received, **batch_options(settings, settings.group_id, "router", ComplaintReceived))
    async def on_complaints_received(bodies: list[Any], message: KafkaMessage = Context("message")) -> None:
        received = await read_batch(bodies, message.raw_message, ComplaintReceived, dead_letters)
        if not received:
            return
        ruleset = live.current
        stored = await state["db"].assign_batch(received, lambda event: build_assignment(
            event, ruleset.route(event.text, event.channel, event.category), 1, calendar))
        # Published after the database commit and before the offset commit: a crash in between
        # republishes the stored events (same event_id), never a second decision.
        unpublished = [s.event for s in stored if not s.published]
        await asyncio.gather(*(assigned_topic.publish(a, key=a.complaint_id.encode(), correlation_id=a.correlation_id)
                               for a in unpublished))
        await state["db"].mark_published(*unpublished)
        for item in stored:
            a = item.event
            if item.created:
                ASSIGNMENTS.labels(a.unit.code, a.rule_id, str(a.is_fallback)).inc()
            log.info("complaint_assigned", complaint_id=a.complaint_id, correlation_id=a.correlation_id,
                     unit=a.unit.code, rule_id=a.rule_id, ruleset_version=a.ruleset_version,
                     is_fallback=a.is_fallback, redelivered=not item.created)

    async def publish_if_possible(event: OutboxEvent) -> bool:
        try:
            await publish(event)
            return True
        except Exception as error:  # stored already: the outbox relay publishes it later
            log.warning("publish_deferred_to_outbox", event_type=event.event_type, error=repr(error))
            return False

    async def relay_outbox() -> None:
        """Publish events stored but never published (router died, or Kafka was down)."""
        while True:
            await asyncio.sleep(settings.outbox_check_seconds)
            try:
                pending = await state["db"].unpublished(older_than_seconds=settings.outbox_check_seconds)
            except Exception as error:  # database down: try again next round
                log.warning("outbox_check_failed", error=repr(error))
                continue
            for event in pending:
                if not await publish_if_possible(event):
                    break
                log.info("outbox_published", event_type=event.event_type, complaint_id=event.complaint_id)

    async def watch_deadlines() -> None:
        """Escalate overdue complaints and close the silent ones, on working-day deadlines (WIB)."""
        while True:
            try:
                today = datetime.now(UTC).astimezone(WIB).date()
                events = await state["db"].sweep(today, live.current.registry.coordinator_email)
                for event in events:
                    log.info("deadline_step", event_type=event.event_type, complaint_id=event.complaint_id,
                             stage=getattr(event, "stage", None), status=getattr(event, "status", None))
                    await publish_if_possible(event)
            except Exception as error:  # database down: next round
                log.warning("deadline_check_failed", error=repr(error))
            await asyncio.sleep(settings.deadline_check_seconds)

    def on_pool(pool) -> None:
        state["db"] = RouterRepository(pool)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, live.reload)
        state["tasks"] = [asyncio.create_task(live.watch(settings.rules_check_seconds)),
                          asyncio.create_task(relay_outbox()), asyncio.create_task(watch_deadlines())]

    async def stop_tasks() -> None:
        for task in state.get("tasks", []):
            task.cancel()

    desk = Desk(lambda: state["db"], live, calendar, publish_if_possible)

    # Few and far between, so one at a time; a reply that does not fit (no response yet, already
    # closed, unknown complaint) is dead-lettered with the reason.
    @broker.subscriber(topics.citizen_replies, **subscriber_options(settings.group_id, "router-citizen-replies"))
    async def on_citizen_replied(reply: CitizenReplied) -> None:
        try:
            change = await desk.take_reply(reply)
        except TransitionRefused as refused:  # no such complaint, or it takes no reply: it never will
            raise Unprocessable(str(refused)) from refused
        log.info("citizen_reply_recorded", complaint_id=reply.complaint_id, correlation_id=reply.correlation_id,
                 reply_id=reply.reply_id, redelivered=change is None)
    # A WhatsApp citizen's new number or BSUID (their `system` message): answers go there from now on.
    @broker.subscriber(topics.contact_changes, **subscriber_options(settings.group_id, "router-contact-changes"))
    async def on_contact_changed(change: CitizenContactChanged) -> None:
        complaints = await state["db"].change_citizen_contact(change)
        log.info("citizen_contact_changed", change_id=change.change_id, channel=change.channel, complaints=complaints)

    api = create_api(repository=lambda: state["db"], desk=desk, operator_tokens=settings.operator_tokens,
                     unit_tokens=settings.unit_tokens)
    add_inbox(api, repository=lambda: state["db"], desk=desk, secret=settings.inbox_secret,
              unit_tokens=settings.unit_tokens, session_hours=settings.inbox_session_hours,
              cookie_secure=settings.inbox_cookie_secure)
    app = consumer_app(SERVICE, broker, settings, schema="router", migrations=MIGRATIONS, on_pool=on_pool)
    app.on_shutdown(stop_tasks)
    log.info("ruleset_loaded", version=live.current.version, rules=len(live.current.rules))
    return WithHttpApi(app, api, prefixes=("/api/", "/unit"))
