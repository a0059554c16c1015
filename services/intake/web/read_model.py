"""The status read model's consumers: every channel's complaints as the router assigns them and as their
status changes, so the status page and the phone channels can answer by tracking code (docs/adr/0002).
Both take batches: one transaction and one offset commit for up to `batch_size` events."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from services.intake.web.intake import WebIntake
from shared.consumer import batch_options, read_batch
from shared.contracts import ComplaintAssigned, StatusEvent


def subscribe(broker: KafkaBroker, web: WebIntake) -> None:
    settings, topics = web.settings, web.kit.topics

    # Closures over `web` rather than FastStream's Context, which it resolves in a worker thread per call.
    async def on_assigned(records: list[Any]) -> None:
        await web.status.assigned(await read_batch(records, ComplaintAssigned, web.dead_letters))

    async def on_status(records: list[Any]) -> None:
        await web.status.apply(await read_batch(records, StatusEvent, web.dead_letters))

    broker.subscriber(topics.assigned, **batch_options(settings, settings.status_group_id, "web-status:assigned",
                                                       ComplaintAssigned))(on_assigned)
    broker.subscriber(topics.status, **batch_options(settings, settings.status_group_id, "web-status:status",
                                                     StatusEvent))(on_status)
