"""Security review, issue 14, item 7 (third part): Kafka logins and an ACL per service.

Before: the broker took any client without a login and let it read and write every topic: the internet-facing
web intake, or anything that reached the broker, could read every complaint and forge assignments. Now each
service logs in (SASL/SCRAM-SHA-512) as its own user, allowed only its topics (shared/kafka_access.py); the
`topics` fixture grants them on each test's topics, as `make run` does on the real names.
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from shared.kafka import client_options
from shared.kafka_access import service_access
from shared.settings import KafkaSettings
from tests.conftest import kafka_logins
from tests.support.processes import KAFKA_PASSWORDS

pytestmark = [pytest.mark.kafka,
              pytest.mark.skipif(not kafka_logins(), reason="a broker without logins (testcontainers) has no ACLs")]


def as_user(infra, user: str, password: str | None = None) -> dict:
    return client_options(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, username=user,
                                        password=password or KAFKA_PASSWORDS[user]))


async def produce(options: dict, topic: str) -> None:
    producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=True, request_timeout_ms=10000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"forged": true}', key=b"k")
    finally:
        await producer.stop()


async def consume(options: dict, topic: str, group: str | None) -> None:
    consumer = AIOKafkaConsumer(topic, **options, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=2000)
    finally:
        await consumer.stop()


@pytest.mark.parametrize(("user", "topic"), [
    ("intake-web", "assigned"),  # a forged assignment, from the internet-facing intake
    ("intake-sms", "status"), ("intake-whatsapp", "assigned"),
    ("notifier", "status"), ("notifier", "received"), ("lapor-sync", "assigned"), ("router", "replies")])
async def test_a_service_cannot_write_what_is_not_its_own(infra, topics, user, topic):
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(as_user(infra, user), getattr(topics, topic))


@pytest.mark.parametrize(("user", "topic", "group"), [
    ("intake-web", "received", "web-status"),  # every channel's reporters, before sealing existed
    ("intake-web", "replies", "web-status"), ("lapor-sync", "replies", "lapor-sync"),
    ("intake-sms", "assigned", None), ("intake-whatsapp", "status", None), ("router", "delivery_receipts", "router")])
async def test_a_service_cannot_read_what_is_not_its_own(infra, topics, user, topic, group):
    with pytest.raises(TopicAuthorizationFailedError):
        await consume(as_user(infra, user), getattr(topics, topic), group)


async def test_a_service_reads_only_in_its_own_consumer_group(infra, topics):
    with pytest.raises(GroupAuthorizationFailedError):
        await consume(as_user(infra, "lapor-sync"), topics.assigned, "notifier")  # taking the notifier's offsets


async def test_what_a_service_may_do_it_can_do(infra, topics):
    """The denials above are ACLs, not a broken login: the same users write and read their own topics."""
    access = service_access(topics)
    await produce(as_user(infra, "intake-web"), topics.received)
    await produce(as_user(infra, "router"), topics.assigned)
    await consume(as_user(infra, "router"), topics.received, access["router"].groups[0])
    await consume(as_user(infra, "notifier"), topics.assigned, access["notifier"].groups[0])


@pytest.mark.parametrize("user", ["router", "nobody"])
async def test_a_wrong_password_or_unknown_user_is_refused(infra, topics, user):
    with pytest.raises(KafkaConnectionError):
        await produce(as_user(infra, user, password="guessed"), topics.received)
