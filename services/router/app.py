"""The router's composition root: the whole wiring on one screen.

The handlers are module-level (services/router/adapters/consumers.py, services/router/http/); what they
need is built once at start-up, when the database pool is there, as one RouterDependencies, and reached
through FastStream's context and a FastAPI dependency.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog

from services.router.adapters import consumers
from services.router.adapters.background import relay_outbox, watch_deadlines, watch_duplicates
from services.router.adapters.postgres import RouterRepository
from services.router.adapters.publisher import EventPublisher
from services.router.application.casework import Casework
from services.router.dependencies import DEPENDENCIES, RouterDependencies
from services.router.http.api import create_api
from services.router.http.back_office import add_back_office
from services.router.http.delivery_records import DeliveryRecords
from services.router.http.inbox import add_inbox
from services.router.http.inbox_sessions import OPERATORS, InboxSessions
from services.router.lifecycle.working_days import WorkingCalendar
from services.router.routing.duplicates import DuplicateFinder
from services.router.routing.live_ruleset import LiveRuleSet
from services.router.routing.second_opinion import SecondOpinion
from services.router.settings import RouterSettings
from shared.consumer import WithHttpApi, batch_options, consumer_app, consumer_broker, subscriber_options
from shared.contracts import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintReceived,
    ComplaintStatusChanged,
)
from shared.dead_letter import DeadLetters
from shared.evidence import EvidenceStore
from shared.topics import Topics

SERVICE = "router"

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)


def clock() -> datetime:
    return datetime.now(UTC)


def build_app(settings: RouterSettings | None = None) -> WithHttpApi:
    settings = settings or RouterSettings()
    topics = Topics(settings.kafka.topic_prefix)
    broker = consumer_broker(SERVICE, settings)
    live = LiveRuleSet(settings.rules_file, settings.units_file)  # invalid rules: refuse to start
    calendar = WorkingCalendar(settings.collective_leave)
    assigned_topic = broker.publisher(topics.assigned, schema=ComplaintAssigned)
    status_topic = broker.publisher(topics.status, schema=ComplaintStatusChanged | ComplaintEscalated,
                                    description="ComplaintStatusChanged and ComplaintEscalated, by event_type")
    # For the batches, which read their messages themselves.
    broker.context.set_global("dead_letters", DeadLetters(SERVICE, broker))

    broker.subscriber(topics.received, **batch_options(settings, settings.group_id, "router", ComplaintReceived),
                      )(consumers.on_complaints_received)
    broker.subscriber(topics.citizen_replies, **subscriber_options(settings.group_id, "router-citizen-replies"),
                      )(consumers.on_citizen_replied)
    broker.subscriber(topics.contact_changes, **subscriber_options(settings.group_id, "router-contact-changes"),
                      )(consumers.on_contact_changed)

    api = create_api()
    add_inbox(api)
    add_back_office(api)
    tasks: list[asyncio.Task[None]] = []
    evidence = EvidenceStore(settings.evidence)
    delivery_records = DeliveryRecords({"notifier": settings.notifier_url, "lapor_sync": settings.lapor_sync_url},
                                       settings.delivery_record_token.get_secret_value())

    second_opinion = None
    if settings.second_opinion:  # a file that cannot be read stops the start, as bad rules do
        second_opinion = SecondOpinion.from_corpus(*settings.second_opinion_files,
                                                   threshold=settings.second_opinion_threshold,
                                                   saved=settings.second_opinion_saved)
        log.info("second_opinion_ready", version=second_opinion.version, examples=second_opinion.examples,
                 threshold=second_opinion.threshold, trained_here=not second_opinion.saved)

    duplicates = DuplicateFinder()

    def on_pool(pool: asyncpg.Pool) -> None:
        repository = RouterRepository(pool)
        publisher = EventPublisher(assigned_topic, status_topic, repository)
        casework = Casework(repository, live, calendar, publisher.publish_if_possible, clock, second_opinion,
                            duplicates)
        deps = RouterDependencies(settings=settings, live=live, calendar=calendar, clock=clock,
                                  repository=repository, publisher=publisher, casework=casework,
                                  sessions=InboxSessions(pool),
                                  operator_sessions=InboxSessions(pool, OPERATORS), evidence=evidence,
                                  delivery_records=delivery_records)
        broker.context.set_global(DEPENDENCIES, deps)
        setattr(api.state, DEPENDENCIES, deps)
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, live.reload)
        for job in (live.watch(settings.rules_check_seconds),
                    relay_outbox(repository, publisher, settings.outbox_check_seconds),
                    watch_deadlines(casework, settings.deadline_check_seconds),
                    watch_duplicates(casework, settings.duplicate_check_seconds)):
            task = asyncio.create_task(job)
            task.add_done_callback(_ended)
            tasks.append(task)

    async def stop_tasks() -> None:
        for task in tasks:
            task.cancel()

    app = consumer_app(SERVICE, broker, settings, schema="router", migrations=MIGRATIONS, on_pool=on_pool)
    app.on_startup(evidence.open)
    app.on_shutdown(stop_tasks)
    app.on_shutdown(evidence.close)
    app.on_shutdown(delivery_records.close)
    log.info("ruleset_loaded", version=live.current.version, rules=len(live.current.rules))
    return WithHttpApi(app, api, prefixes=("/api/", "/unit", "/ppid"))


def _ended(task: asyncio.Task[None]) -> None:
    """A background loop ends only when cancelled at shutdown, or on a bug: that one is logged loudly."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("background_task_failed", task=task.get_coro().__qualname__, error=repr(error),
                  exc_info=error)
