"""Router throughput: N complaints already in complaints.received.v1, time until all are assigned
and stored; beside it, on the same broker and the same messages, a bare aiokafka
consume-and-produce pass-through (one producer, acks=all, idempotent) as the baseline.

    python -m bench.router_throughput [--count 20000]

Needs Kafka and PostgreSQL (`make infra`); uses its own topics and its own database.
Last line: `router_ratio=... router_cps=... passthrough_cps=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.scratch import create_database, delete_topics, drop_database
from shared.contracts import Channel, ComplaintReceived, Reporter
from shared.kafka import client_options
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import Topics, create_topics
from tests.support.kafka import publish_events
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["Petugas loket minta imbalan 100rb", "Hotspot wifi di alun-alun lemot", "Pohon tumbang di jalan",
         "Denda pajak hotel dihitung salah", "Undangan untuk wali kota menghadiri acara",
         "Perda tentang bangunan gedung belum diunggah ke JDIH"]


async def passthrough(kafka: KafkaSettings, source: str, target: str, count: int) -> float:
    consumer = AIOKafkaConsumer(source, **client_options(kafka), group_id=f"bench-{uuid.uuid4()}",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(**client_options(kafka), acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        seen, started = 0, None
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            started = started or time.perf_counter()
            futures = [await producer.send(target, r.value, key=r.key) for records in batch.values() for r in records]
            await asyncio.gather(*futures)
            await consumer.commit()
            seen += len(futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def main(count: int) -> None:
    kafka = KafkaSettings()
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:6]}.")
    await create_topics(kafka, topics)
    target = f"{topics.prefix}bench.passthrough"
    kafka_admin = AIOKafkaAdminClient(**client_options(kafka))
    await kafka_admin.start()
    await kafka_admin.create_topics([NewTopic(target, num_partitions=6, replication_factor=1)])
    await kafka_admin.close()
    admin_url = DatabaseSettings().url
    database, db_url = await create_database(admin_url)
    router = None
    try:
        events = [ComplaintReceived.new(channel=Channel.SMS, channel_message_id=f"bench-{n}",
                                        text=TEXTS[n % len(TEXTS)], producer="bench",
                                        reporter=Reporter(phone="+6281234567890")) for n in range(count)]
        await publish_events(kafka.bootstrap_servers, topics.received, events)
        baseline = await passthrough(kafka, topics.received, target, count)
        port = free_port()
        router = subprocess.Popen([sys.executable, "-m", "services.router"], cwd=REPO, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL,
                                  env={**os.environ, "ADUAN_KAFKA_TOPIC_PREFIX": topics.prefix,
                                       "ADUAN_DB_URL": db_url, "ADUAN_ROUTER_PORT": str(port),
                                       "ADUAN_ROUTER_LOG_LEVEL": "WARNING"})
        conn = None
        while conn is None:
            try:
                conn = await asyncpg.connect(db_url)
                await conn.fetchval("SELECT count(*) FROM router.assignments")
            except (asyncpg.UndefinedTableError, OSError):
                conn = None
                await asyncio.sleep(0.2)
        while await conn.fetchval("SELECT count(*) FROM router.assignments") < count:
            await asyncio.sleep(0.5)
        span = await conn.fetchval(
            "SELECT extract(epoch FROM max(assigned_at) - min(assigned_at)) FROM router.assignments")
        router_cps = count / float(span)
        await conn.close()
    finally:
        if router:
            router.terminate()
            router.wait(60)
        await drop_database(admin_url, database)
        await delete_topics(kafka.bootstrap_servers, topics.prefix)
    print(f"{count} complaints, 6 partitions, one router process, one pass-through process")
    print(f"pass-through (aiokafka consume + produce, acks=all): {baseline:8.0f} complaints/s")
    print(f"router (route + store + publish + commit):           {router_cps:8.0f} complaints/s")
    print(f"router_ratio={router_cps / baseline:.2f} router_cps={router_cps:.0f} passthrough_cps={baseline:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().count))
