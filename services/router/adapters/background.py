"""The router's background loops: the outbox relay, the deadline watcher, and the duplicate finder.

While PostgreSQL is away they log a warning and try again next round. Anything else is a bug: it is
logged as an error with its traceback and counted (aduan_background_failures_total, which alerts), and
the loop goes on trying, so neither a bug is reported as "database down" forever, nor does one bad round
stop every escalation until the next restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import Counter

from services.router.adapters.publisher import EventPublisher
from services.router.application.casework import Casework
from services.router.application.ports import CaseworkRepository
from shared.contracts import ComplaintEscalated
from shared.jobs import DATABASE_AWAY

log = structlog.get_logger(__name__)
ESCALATIONS = Counter("aduan_escalations_total", "Deadlines missed and escalated to the unit's head",
                      ["unit", "stage"])
BACKGROUND_FAILURES = Counter("aduan_background_failures_total",
                              "Rounds of a background loop that failed on something other than the database", ["task"])


async def relay_outbox(repository: CaseworkRepository, publisher: EventPublisher, interval_seconds: float) -> None:
    """Publish events stored but never published (router died, or Kafka was down)."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            pending = await repository.unpublished(older_than_seconds=interval_seconds)
        except DATABASE_AWAY as error:  # next round
            log.warning("outbox_check_failed", error=repr(error))
            continue
        except Exception:
            BACKGROUND_FAILURES.labels("outbox_relay").inc()
            log.exception("outbox_relay_bug")
            continue
        for event in pending:
            if not await publisher.publish_if_possible(event):
                break
            log.info("outbox_published", event_type=event.event_type, complaint_id=event.complaint_id)


async def watch_deadlines(casework: Casework, interval_seconds: float) -> None:
    """Escalate overdue complaints and close the silent ones, on working-day deadlines (WIB)."""
    async def sweep() -> None:
        for event in await casework.sweep():
            if isinstance(event, ComplaintEscalated):
                ESCALATIONS.labels(event.unit.code, event.stage).inc()

    await _every(interval_seconds, sweep, "deadline_watcher", "deadline_check_failed")


async def watch_duplicates(casework: Casework, interval_seconds: float) -> None:
    """Link new complaints to the open ones they may repeat (routing/duplicates.py), off the routing path."""
    async def link() -> None:
        while await casework.link_duplicates() > 0:  # a backlog: on at once
            pass

    await _every(interval_seconds, link, "duplicate_finder", "duplicate_check_failed")


async def _every(interval_seconds: float, work: Callable[[], Awaitable[None]], task: str, away: str) -> None:
    """`work`, then a pause, for ever; a round that fails is logged (and counted, unless the database was away)."""
    while True:
        try:
            await work()
        except DATABASE_AWAY as error:  # next round
            log.warning(away, error=repr(error))
        except Exception:
            BACKGROUND_FAILURES.labels(task).inc()
            log.exception(f"{task}_bug")
        await asyncio.sleep(interval_seconds)
