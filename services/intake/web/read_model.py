"""The status read model's consumers: every channel's complaints as the router assigns them and as their
status changes, so the status page and the phone channels can answer by tracking code (docs/adr/0002)."""

from __future__ import annotations

from typing import Any

from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage

from services.intake.web.intake import WebIntake
from shared.consumer import batch_options, read_batch, subscriber_options
from shared.contracts import ComplaintAssigned, StatusEvent


async def on_assigned(event: ComplaintAssigned, web: WebIntake = Context("web")) -> None:
    await web.status.assigned(event)


async def on_status(bodies: list[Any], message: KafkaMessage = Context("message"),
                    web: WebIntake = Context("web")) -> None:
    await web.status.apply(await read_batch(bodies, message.raw_message, StatusEvent, web.dead_letters))


def subscribe(broker: KafkaBroker, web: WebIntake) -> None:
    settings, topics = web.settings, web.kit.topics
    broker.context.set_global("web", web)
    broker.subscriber(topics.assigned, **subscriber_options(settings.status_group_id, "web-status:assigned"))(
        on_assigned)
    broker.subscriber(topics.status, **batch_options(settings, settings.status_group_id, "web-status:status",
                                                     StatusEvent))(on_status)
