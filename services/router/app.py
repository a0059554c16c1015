"""The router's composition root: the whole wiring on one screen."""

from __future__ import annotations

from pathlib import Path

import structlog
from faststream.asgi import AsgiFastStream
from prometheus_client import Counter

from services.router.assignment import build_assignment
from services.router.repository import RouterRepository
from services.router.rules import load_ruleset
from services.router.settings import RouterSettings
from shared.consumer import consumer_app, consumer_broker, subscriber_options
from shared.contracts import ComplaintAssigned, ComplaintReceived
from shared.topics import Topics

SERVICE = "router"
MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)

ASSIGNMENTS = Counter("aduan_assignments_total", "Complaints assigned, by unit and rule",
                      ["unit", "rule", "fallback"])


def build_app(settings: RouterSettings | None = None) -> AsgiFastStream:
    settings = settings or RouterSettings()
    topics = Topics(settings.kafka.topic_prefix)
    broker = consumer_broker(SERVICE, settings)
    ruleset = load_ruleset(settings.rules_file, settings.units_file)  # invalid rules: refuse to start
    repository: dict[str, RouterRepository] = {}
    publish_assigned = broker.publisher(topics.assigned, schema=ComplaintAssigned)

    @broker.subscriber(topics.received, **subscriber_options(settings.group_id, "router"))
    async def on_complaint_received(received: ComplaintReceived) -> None:
        with structlog.contextvars.bound_contextvars(complaint_id=received.complaint_id,
                                                     correlation_id=received.correlation_id):
            decision = ruleset.route(received.text, received.channel.value)
            assigned, created = await repository["db"].assign_once(
                received, lambda sequence: build_assignment(received, decision, sequence))
            # Published after the database commit and before the offset commit: a crash in
            # between republishes the stored event (same event_id), never a second decision.
            await publish_assigned.publish(assigned, key=assigned.complaint_id.encode(),
                                           correlation_id=assigned.correlation_id)
            if created:
                ASSIGNMENTS.labels(assigned.unit.code, assigned.rule_id, str(assigned.is_fallback)).inc()
            log.info("complaint_assigned", unit=assigned.unit.code, rule_id=assigned.rule_id,
                     ruleset_version=assigned.ruleset_version, is_fallback=assigned.is_fallback,
                     redelivered=not created)

    log.info("ruleset_loaded", version=ruleset.version, rules=len(ruleset.rules))
    return consumer_app(SERVICE, broker, settings, schema="router", migrations=MIGRATIONS,
                        on_pool=lambda pool: repository.update(db=RouterRepository(pool)))
