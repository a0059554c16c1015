"""The router's composition root: the whole wiring on one screen."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import structlog
from prometheus_client import Counter

from services.router.api import create_api
from services.router.assignment import build_assignment
from services.router.live_ruleset import LiveRuleSet
from services.router.repository import RouterRepository
from services.router.settings import RouterSettings
from services.router.working_days import WorkingCalendar
from shared.consumer import WithHttpApi, consumer_app, consumer_broker, subscriber_options
from shared.contracts import ComplaintAssigned, ComplaintReceived
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

    async def publish(assigned: ComplaintAssigned) -> None:
        await assigned_topic.publish(assigned, key=assigned.complaint_id.encode(),
                                     correlation_id=assigned.correlation_id)
        await state["db"].mark_published(assigned.assignment_id)

    @broker.subscriber(topics.received, **subscriber_options(settings.group_id, "router"))
    async def on_complaint_received(received: ComplaintReceived) -> None:
        with structlog.contextvars.bound_contextvars(complaint_id=received.complaint_id,
                                                     correlation_id=received.correlation_id):
            ruleset = live.current
            decision = ruleset.route(received.text, received.channel, received.category)
            stored = await state["db"].assign_once(
                received, lambda sequence: build_assignment(received, decision, sequence, calendar))
            # Published after the database commit and before the offset commit: a crash in
            # between republishes the stored event (same event_id), never a second decision.
            if not stored.published:
                await publish(stored.event)
            if stored.created:
                a = stored.event
                ASSIGNMENTS.labels(a.unit.code, a.rule_id, str(a.is_fallback)).inc()
            log.info("complaint_assigned", unit=stored.event.unit.code, rule_id=stored.event.rule_id,
                     ruleset_version=stored.event.ruleset_version, is_fallback=stored.event.is_fallback,
                     redelivered=not stored.created)

    async def publish_if_possible(assigned: ComplaintAssigned) -> bool:
        try:
            await publish(assigned)
            return True
        except Exception as error:  # stored already: the outbox relay publishes it later
            log.warning("publish_deferred_to_outbox", assignment_id=assigned.assignment_id, error=repr(error))
            return False

    async def relay_outbox() -> None:
        """Publish assignments stored but never published (router died, or Kafka was down)."""
        while True:
            await asyncio.sleep(settings.outbox_check_seconds)
            try:
                pending = await state["db"].unpublished(older_than_seconds=settings.outbox_check_seconds)
            except Exception as error:  # database down: try again next round
                log.warning("outbox_check_failed", error=repr(error))
                continue
            for assigned in pending:
                if not await publish_if_possible(assigned):
                    break
                log.info("outbox_published", assignment_id=assigned.assignment_id,
                         complaint_id=assigned.complaint_id)

    def on_pool(pool) -> None:
        state["db"] = RouterRepository(pool)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, live.reload)
        state["tasks"] = [asyncio.create_task(live.watch(settings.rules_check_seconds)),
                          asyncio.create_task(relay_outbox())]

    async def stop_tasks() -> None:
        for task in state.get("tasks", []):
            task.cancel()

    api = create_api(repository=lambda: state["db"], live=live, publish=publish_if_possible,
                     operator_tokens=settings.operator_tokens, unit_tokens=settings.unit_tokens,
                     calendar=calendar)
    app = consumer_app(SERVICE, broker, settings, schema="router", migrations=MIGRATIONS, on_pool=on_pool)
    app.on_shutdown(stop_tasks)
    log.info("ruleset_loaded", version=live.current.version, rules=len(live.current.rules))
    return WithHttpApi(app, api)
