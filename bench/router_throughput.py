"""Router throughput: N complaints already in complaints.received.v1, time until all are assigned
and stored; beside it, on the same broker and the same messages, a bare aiokafka
consume-and-produce pass-through (one producer, acks=all, idempotent) as the baseline, and the
libraries' floor: the router's own Kafka and database plumbing (FastStream batch subscriber with the
services' broker settings and middlewares, one asyncpg transaction storing each message, a FastStream
publish per message, the offset commit) with no routing, no events read and no assignment built.

    python -m bench.router_throughput [--count 20000]

Needs Kafka and PostgreSQL (`make infra`); uses its own topics and its own database.
Last line: `router_ratio=... router_cps=... passthrough_cps=... floor_ratio=... floor_cps=...`.
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
from faststream import AckPolicy

from bench.scratch import create_database, delete_topics, drop_database
from shared.consumer import raw_records
from shared.contracts import Channel, ComplaintReceived, Reporter
from shared.kafka import client_options, make_broker
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


async def floor(kafka: KafkaSettings, db_url: str, source: str, target: str, count: int) -> float:
    """What the router's plumbing alone allows: its consume, store, publish and commit, without its work."""
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=4)
    await pool.execute("CREATE TABLE floor (id uuid PRIMARY KEY, body text NOT NULL)")
    broker = make_broker(kafka, client_id="bench-floor")
    publisher = broker.publisher(target)
    seen, started, done = 0, 0.0, asyncio.Event()

    @broker.subscriber(source, group_id=f"bench-{uuid.uuid4()}", auto_offset_reset="earliest", batch=True,
                       max_records=200, batch_timeout_ms=100, decoder=raw_records,
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def store_and_forward(records: list) -> None:
        nonlocal seen, started
        started = started or time.perf_counter()
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany("INSERT INTO floor (id, body) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                                   [(uuid.uuid4(), r.value.decode()) for r in records])
        await asyncio.gather(*(publisher.publish(r.value, key=r.key) for r in records))
        seen += len(records)
        if seen >= count:
            done.set()

    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=300)
        return count / (time.perf_counter() - started)
    finally:
        await broker.stop()
        await pool.close()


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
        plumbing = await floor(kafka, db_url, topics.received, target, count)
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
    print(f"floor (FastStream consume + asyncpg store + publish): {plumbing:8.0f} complaints/s")
    print(f"router_ratio={router_cps / baseline:.2f} router_cps={router_cps:.0f} passthrough_cps={baseline:.0f}"
          f" floor_ratio={plumbing / baseline:.2f} floor_cps={plumbing:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().count))
