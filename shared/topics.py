"""Topic names and sizes: the one place they are defined.

Every message is keyed by complaint_id, so one complaint's events stay in order on one
partition. Six partitions let up to six consumers of a group share the work.
Dead letters: `<topic>.dlq.<consuming service>`, one per consumer, so replaying one
consumer's failures never re-feeds another consumer.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.kafka import client_options
from shared.settings import KafkaSettings

PARTITIONS = 6
DLQ_PARTITIONS = 1


def dead_letter_topic(topic: str, consumer: str) -> str:
    return f"{topic}.dlq.{consumer}"


@dataclass(frozen=True)
class Topics:
    """Topic names under an optional prefix (tests run each stack under its own prefix)."""

    prefix: str = ""

    @property
    def received(self) -> str:
        return f"{self.prefix}complaints.received.v1"

    @property
    def assigned(self) -> str:
        return f"{self.prefix}complaints.assigned.v1"

    @property
    def status(self) -> str:
        return f"{self.prefix}complaints.status.v1"

    @property
    def replies(self) -> str:
        """Messages to citizens that are not about an assignment (e.g. the SMS format help)."""
        return f"{self.prefix}citizen.replies.v1"

    @property
    def citizen_replies(self) -> str:
        """What citizens write back about their complaint (inbound; `replies` is outbound)."""
        return f"{self.prefix}complaints.citizen_replies.v1"

    @property
    def delivery_receipts(self) -> str:
        """What channels report on the messages we sent (WhatsApp statuses), for the notifier."""
        return f"{self.prefix}citizen.delivery_receipts.v1"

    @property
    def contact_changes(self) -> str:
        """A citizen's new number or channel id (WhatsApp system messages), for the router."""
        return f"{self.prefix}citizen.contact_changes.v1"

    @property
    def whatsapp_unusable(self) -> str:
        """The parts of a WhatsApp webhook the intake could not use, with the reason, kept for a person
        (and a replay once the intake understands them): Meta batches messages, so one bad message is
        parked here instead of refusing its whole webhook."""
        return f"{self.prefix}whatsapp.unusable.v1"

    def all_topics(self) -> dict[str, int]:
        """Every topic with its partition count."""
        dead_letters = {
            dead_letter_topic(self.received, "router"): DLQ_PARTITIONS,
            dead_letter_topic(self.assigned, "notifier"): DLQ_PARTITIONS,
            dead_letter_topic(self.assigned, "lapor-sync"): DLQ_PARTITIONS,
            dead_letter_topic(self.assigned, "intake-web"): DLQ_PARTITIONS,
            dead_letter_topic(self.replies, "notifier"): DLQ_PARTITIONS,
            dead_letter_topic(self.status, "intake-web"): DLQ_PARTITIONS,
            dead_letter_topic(self.status, "notifier"): DLQ_PARTITIONS,
            dead_letter_topic(self.status, "lapor-sync"): DLQ_PARTITIONS,
            dead_letter_topic(self.citizen_replies, "router"): DLQ_PARTITIONS,
            dead_letter_topic(self.delivery_receipts, "notifier"): DLQ_PARTITIONS,
            dead_letter_topic(self.contact_changes, "router"): DLQ_PARTITIONS,
            self.whatsapp_unusable: DLQ_PARTITIONS,
        }
        main = {self.received: PARTITIONS, self.assigned: PARTITIONS, self.status: PARTITIONS,
                self.replies: PARTITIONS, self.citizen_replies: PARTITIONS, self.delivery_receipts: PARTITIONS,
                self.contact_changes: PARTITIONS}
        return main | dead_letters


async def create_topics(
    settings: KafkaSettings, topics: Topics, ready_timeout: float = 30.0
) -> list[str]:
    """Create what is missing; existing topics are left as they are. Returns the created names.

    The broker answers per topic (it raises nothing): "already exists" is fine (another process, or
    a listing that was not up to date yet), any other error is not. Returns only once every topic
    has a leader for each partition: the broker's metadata lags the controller's "created" for a
    moment, and a client asking in that moment sees a topic without partitions.
    """
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=partitions, replication_factor=settings.replication_factor)
            for name, partitions in topics.all_topics().items()
            if name not in existing
        ]
        if not wanted:
            return []
        answer = await admin.create_topics(wanted)
        created, failed = [], []
        for name, code, *message in answer.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                failed.append(f"{name}: error {code} {message[0] if message else ''}".strip())
        if failed:
            raise RuntimeError("could not create topics: " + "; ".join(failed))
        await _until_ready(admin, topics.all_topics(), ready_timeout)
        return created
    finally:
        await admin.close()


async def _until_ready(admin: AIOKafkaAdminClient, wanted: dict[str, int], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        described = await admin.describe_topics(list(wanted))
        not_ready = sorted(
            d["topic"] for d in described
            if d["error_code"] != 0
            or len(d["partitions"]) != wanted.get(d["topic"], -1)
            or any(p["error_code"] != 0 or p["leader"] < 0 for p in d["partitions"])
        )
        if not not_ready:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"topics without leaders after {timeout:.0f} s: {', '.join(not_ready)}")
        await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description="Create Aduan's Kafka topics if missing.")
    parser.add_argument("--prefix", default=None, help="topic prefix (default: ADUAN_TOPIC_PREFIX)")
    args = parser.parse_args()
    settings = KafkaSettings()
    topics = Topics(args.prefix if args.prefix is not None else settings.topic_prefix)
    created = asyncio.run(create_topics(settings, topics))
    for name, partitions in topics.all_topics().items():
        state = "created" if name in created else "exists"
        print(f"{state:8} {name} partitions={partitions}")


if __name__ == "__main__":
    main()
