"""The router's Kafka handlers (services/router/adapters/consumers.py), on FastStream's in-memory broker
with the casework over the in-memory repository: a batch of complaints is routed, stored and published once;
a citizen's reply that does not fit is Unprocessable (dead-lettered by the service's middleware)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.router.adapters import consumers
from services.router.application.casework import Casework
from services.router.application.ports import OutboxEvent
from services.router.dependencies import DEPENDENCIES
from services.router.lifecycle.working_days import WorkingCalendar
from services.router.routing.live_ruleset import LiveRuleSet
from services.router.routing.rules import DEFAULT_RULES_FILE, DEFAULT_UNITS_FILE
from shared.consumer import raw_records
from shared.contracts import CitizenReplied, citizen_reply_id_for
from shared.dead_letter import Unprocessable
from tests.support import events
from tests.support.router_memory import MemoryRepository

NOW = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)


class Publisher:
    def __init__(self, repository: MemoryRepository) -> None:
        self.repository, self.sent = repository, []

    async def publish_all(self, sent: list[OutboxEvent]) -> None:
        self.sent += sent
        await self.repository.mark_published(*sent)


class Parked:
    def __init__(self) -> None:
        self.parked: list[Any] = []

    async def park(self, record: Any, error: BaseException) -> None:
        self.parked.append(error)


@pytest.fixture
def wired():
    repository = MemoryRepository()
    publisher = Publisher(repository)

    async def publish(event: OutboxEvent) -> bool:
        return True

    casework = Casework(repository, LiveRuleSet(DEFAULT_RULES_FILE, DEFAULT_UNITS_FILE), WorkingCalendar(), publish,
                        lambda: NOW)
    broker = KafkaBroker()
    broker.subscriber("received", batch=True, decoder=raw_records)(consumers.on_complaints_received)
    broker.subscriber("replies")(consumers.on_citizen_replied)
    parked = Parked()
    broker.context.set_global(DEPENDENCIES, SimpleNamespace(casework=casework, publisher=publisher))
    broker.context.set_global("dead_letters", parked)
    return SimpleNamespace(broker=broker, repository=repository, publisher=publisher, parked=parked)


async def test_a_batch_is_routed_stored_and_published_once_and_an_unreadable_message_is_parked(wired):
    first, second = events.received(), events.received("SURGA nama di SPPT PBB masih atas nama pemilik lama")
    async with TestKafkaBroker(wired.broker) as broker:
        await broker.publish_batch(first.model_dump(mode="json"), second.model_dump(mode="json"), {"text": 1},
                                   topic="received")
        await broker.publish_batch(first.model_dump(mode="json"), topic="received")  # redelivered
    assert set(wired.repository.complaints) == {first.complaint_id, second.complaint_id}
    assert sorted(a.complaint_id for a in wired.publisher.sent) == sorted([first.complaint_id, second.complaint_id])
    assert wired.repository.find(second.complaint_id).current.unit.code == "bppkad"
    assert len(wired.parked.parked) == 1


async def test_a_reply_to_a_complaint_not_answered_yet_is_refused(wired):
    first = events.received()
    reply = CitizenReplied(reply_id=citizen_reply_id_for("web", "api:1"), complaint_id=first.complaint_id,
                           tracking_code=first.tracking_code, channel="web", text="Bagaimana kelanjutannya?",
                           received_at=NOW, producer="tests", correlation_id=first.complaint_id)
    async with TestKafkaBroker(wired.broker) as broker:
        await broker.publish_batch(first.model_dump(mode="json"), topic="received")
        with pytest.raises(Unprocessable, match="balasan pelapor tidak dapat"):
            await broker.publish(reply.model_dump(mode="json"), topic="replies")
    assert wired.repository.replies == set()
