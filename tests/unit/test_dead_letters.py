"""Which failures park a message on the dead-letter topic and which are retried (shared/dead_letter.py).

FastStream's in-memory broker runs the real middleware and subscribers; commits and redelivery
are the integration suite's (tests/integration/test_router.py, test_notifier.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from faststream import Context
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.message import KafkaMessage
from pydantic import BaseModel

from shared.consumer import batch_options, read_batch, subscriber_options
from shared.dead_letter import DeadLetters, Unprocessable
from shared.kafka import make_broker
from shared.settings import KafkaSettings, ServiceSettings

TOPIC, SERVICE = "things.v1", "tester"
DEAD = f"{TOPIC}.dlq.{SERVICE}"


class Thing(BaseModel):
    name: str


def broker_with(handler: Any, *, batch: bool = False) -> tuple[KafkaBroker, list[tuple[bytes, dict[str, str]]]]:
    broker = make_broker(KafkaSettings(), client_id=SERVICE)
    dead_letters = DeadLetters(SERVICE, broker)
    broker.add_middleware(dead_letters)
    parked: list[tuple[bytes, dict[str, str]]] = []

    @broker.subscriber(DEAD)
    async def on_dead(body: Any, message: KafkaMessage = Context("message")) -> None:
        parked.append((body, message.headers))

    if batch:
        settings = ServiceSettings(port=0)
        @broker.subscriber(TOPIC, **batch_options(settings, "g", "things", Thing))
        async def on_batch(records: list[Any]) -> None:
            handler(await read_batch(records, Thing, dead_letters))
    else:
        @broker.subscriber(TOPIC, **subscriber_options("g", "things"))
        async def on_thing(thing: Thing) -> None:
            handler(thing)
    return broker, parked


async def test_a_message_that_is_not_the_contract_is_parked_with_the_reason():
    handled: list[Thing] = []
    broker, parked = broker_with(handled.append)
    async with TestKafkaBroker(broker):
        await broker.publish({"nama": "salah"}, TOPIC, key=b"k1")
        await broker.publish({"name": "lampu"}, TOPIC, key=b"k2")
    assert [t.name for t in handled] == ["lampu"]
    assert len(parked) == 1
    assert parked[0][1]["x-error"] == "ValidationError: thing.name: Field required"
    assert parked[0][1]["x-original-topic"] == TOPIC


async def test_a_body_that_is_not_the_json_it_claims_is_parked():
    broker, parked = broker_with(lambda thing: None)
    async with TestKafkaBroker(broker):
        await broker.publish(b'{"name": "lampu', TOPIC, headers={"content-type": "application/json"})
    assert len(parked) == 1 and parked[0][1]["x-error"].startswith("JSONDecodeError")


async def test_unprocessable_parks_the_message_with_the_handlers_reason():
    def refuse(thing: Thing) -> None:
        raise Unprocessable(f"no such thing as {thing.name}")

    broker, parked = broker_with(refuse)
    async with TestKafkaBroker(broker):
        await broker.publish({"name": "unicorn"}, TOPIC)
    assert [h["x-error"] for _, h in parked] == ["Unprocessable: no such thing as unicorn"]


@pytest.mark.parametrize("bug", [ValueError("bug"), TypeError("bug"), KeyError("bug")])
async def test_a_bug_in_our_handler_is_retried_not_parked(bug):
    def broken(thing: Thing) -> None:
        raise bug

    broker, parked = broker_with(broken)
    async with TestKafkaBroker(broker):
        with pytest.raises(type(bug)):  # NACK_ON_ERROR: the offset is not committed, the message comes back
            await broker.publish({"name": "lampu"}, TOPIC)
    assert parked == []


async def test_one_unreadable_body_in_a_batch_is_parked_alone():
    handled: list[list[Thing]] = []
    broker, parked = broker_with(handled.append, batch=True)
    async with TestKafkaBroker(broker):
        await broker.publish_batch({"name": "satu"}, b"\xff\xfe not json", {"name": "tiga"}, topic=TOPIC,
                                   headers={"content-type": "application/json"})
    assert [[t.name for t in batch] for batch in handled] == [["satu", "tiga"]]
    assert [body for body, _ in parked] == [b"\xff\xfe not json"]


async def test_the_reason_names_the_broken_field_but_never_its_value():
    broker, parked = broker_with(lambda thing: None)
    async with TestKafkaBroker(broker):
        await broker.publish({"name": {"phone": "+6281234567890"}}, TOPIC)
    assert parked[0][1]["x-error"] == "ValidationError: thing.name: Input should be a valid string"
