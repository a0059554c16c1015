"""The router's background loops: the outbox relay, and the deadline watcher.

While PostgreSQL is away they log and try again next round. The deadline watcher lets anything else
through: a bug ends it loudly (logged with its traceback, see services/router/app.py) instead of being
reported as "database down" forever.
"""

from __future__ import annotations

import asyncio

import structlog

from services.router.adapters.publisher import EventPublisher
from services.router.application.casework import Casework
from services.router.application.ports import CaseworkRepository
from shared.jobs import DATABASE_AWAY

log = structlog.get_logger(__name__)


async def relay_outbox(repository: CaseworkRepository, publisher: EventPublisher, interval_seconds: float) -> None:
    """Publish events stored but never published (router died, or Kafka was down)."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            pending = await repository.unpublished(older_than_seconds=interval_seconds)
        except Exception as error:  # database down: try again next round
            log.warning("outbox_check_failed", error=repr(error))
            continue
        for event in pending:
            if not await publisher.publish_if_possible(event):
                break
            log.info("outbox_published", event_type=event.event_type, complaint_id=event.complaint_id)


async def watch_deadlines(casework: Casework, interval_seconds: float) -> None:
    """Escalate overdue complaints and close the silent ones, on working-day deadlines (WIB)."""
    while True:
        try:
            await casework.sweep()
        except DATABASE_AWAY as error:  # next round
            log.warning("deadline_check_failed", error=repr(error))
        # Anything else is a bug: it ends the task, and the service's done-callback logs it with its traceback.
        await asyncio.sleep(interval_seconds)
