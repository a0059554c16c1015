"""Publishing the casework's events: assignments to complaints.assigned.v1, status changes and escalations to
complaints.status.v1, each marked published in the outbox once Kafka took it."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from services.router.application.ports import CaseworkRepository, OutboxEvent
from shared.contracts import ComplaintAssigned

log = structlog.get_logger(__name__)


class EventPublisher:
    def __init__(self, assigned_topic: Any, status_topic: Any, repository: CaseworkRepository) -> None:
        self.assigned_topic, self.status_topic, self.repository = assigned_topic, status_topic, repository

    async def _send(self, event: OutboxEvent) -> None:
        topic = self.assigned_topic if isinstance(event, ComplaintAssigned) else self.status_topic
        await topic.publish(event, key=event.complaint_id.encode(), correlation_id=event.correlation_id)

    async def publish(self, event: OutboxEvent) -> None:
        """Publish a stored event, then mark it so."""
        await self._send(event)
        await self.repository.mark_published(event)

    async def publish_all(self, events: list[OutboxEvent]) -> None:
        """Concurrently; any failure raises (a batch is then delivered again, and republished)."""
        await asyncio.gather(*(self._send(event) for event in events))
        await self.repository.mark_published(*events)

    async def publish_if_possible(self, event: OutboxEvent) -> bool:
        try:
            await self.publish(event)
            return True
        except Exception as error:  # stored already: the outbox relay publishes it later
            log.warning("publish_deferred_to_outbox", event_type=event.event_type, error=repr(error))
            return False
