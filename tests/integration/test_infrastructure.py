"""Topics and migrations on the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.database import create_pool, migrate
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import PARTITIONS, Topics, create_topics
from tests.support.kafka import login

ROUTER_MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "router" / "migrations"


@pytest.mark.kafka
async def test_topics_are_created_once_with_their_partition_counts(infra, topics: Topics):
    settings = KafkaSettings(bootstrap_servers=infra.kafka_bootstrap)
    assert await create_topics(settings, topics) == []  # the fixture already created them
    admin = AIOKafkaAdminClient(**login(infra.kafka_bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics.all_topics()))
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    assert partitions == topics.all_topics()
    assert partitions[topics.received] == partitions[topics.assigned] == PARTITIONS


@pytest.mark.kafka
async def test_a_topic_the_broker_refuses_is_an_error_not_silence(infra):
    # One broker cannot hold three replicas: the broker says so per topic, without raising.
    settings = KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, replication_factor=3)
    with pytest.raises(RuntimeError, match="could not create topics"):
        await create_topics(settings, Topics(prefix=f"t{uuid.uuid4().hex[:8]}."))


@pytest.mark.postgres
async def test_migrations_apply_once_even_when_replicas_start_together(database_url):
    schema = "migration_test"
    pools = [await create_pool(DatabaseSettings(url=database_url), schema) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(migrate(pool, schema, ROUTER_MIGRATIONS) for pool in pools))
        assert sorted(map(len, applied)) == [0, 0, len(list(ROUTER_MIGRATIONS.glob("*.sql")))]
        assert await migrate(pools[0], schema, ROUTER_MIGRATIONS) == []
        conn: asyncpg.Connection
        async with pools[0].acquire() as conn:
            tables = {r["tablename"] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)}
        assert {"complaints", "assignments", "schema_migrations"} <= tables
    finally:
        for pool in pools:
            await pool.close()
