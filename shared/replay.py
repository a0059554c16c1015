"""Replay a service's dead letters: `python -m shared.replay SERVICE [--dry-run]`.

Reads `<topic>.dlq.<SERVICE>` from where the last replay stopped (consumer group
`replay-<SERVICE>`), publishes each record back to the topic it came from (its
`x-original-topic` header) with the same key, and commits after each acknowledged publish:
running it twice never replays a letter twice. Replayed events are handled like new ones:
consumers are idempotent, and a job that had been given up is revived (shared/jobs.py).
Fix the cause first (a unit's address, a rule): a letter that fails again comes back here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared.kafka import client_options
from shared.settings import KafkaSettings
from shared.topics import Topics


async def replay(settings: KafkaSettings, service: str, dry_run: bool = False) -> dict[str, int]:
    topics = {t: n for t, n in Topics(settings.topic_prefix).all_topics().items() if t.endswith(f".dlq.{service}")}
    if not topics:
        raise ValueError(f"no dead-letter topics for service {service!r}")
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=f"replay-{service}",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    replayed: dict[str, int] = {}
    try:
        partitions = [TopicPartition(t, p) for t, count in topics.items() for p in range(count)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    original = headers.get("x-original-topic")
                    if original and not dry_run:
                        await producer.send_and_wait(original, record.value, key=record.key,
                                                     headers=[("x-replayed-from", tp.topic.encode())])
                        await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
                    replayed[original or "(no original topic)"] = replayed.get(original or "(no original topic)", 0) + 1
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", help="router, notifier, lapor-sync, intake-web")
    parser.add_argument("--dry-run", action="store_true", help="count what would be replayed, change nothing")
    args = parser.parse_args()
    try:
        replayed = asyncio.run(replay(KafkaSettings(), args.service, args.dry_run))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for topic, count in sorted(replayed.items()):
        print(f"{'would replay' if args.dry_run else 'replayed'} {count} to {topic}")
    print(f"replayed={sum(replayed.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
