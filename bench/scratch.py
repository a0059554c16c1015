"""A benchmark's own database and topics, removed afterwards, so runs leave nothing behind on the
shared local Kafka and PostgreSQL (a broker that keeps every run's partitions runs out of heap)."""

from __future__ import annotations

import uuid

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.kafka import login


async def create_database(admin_url: str) -> tuple[str, str]:
    """A fresh database: its name and its URL."""
    name = f"aduan_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, f"{admin_url.rpartition('/')[0]}/{name}"


async def drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """This run's topics, whoever created them; the consumer groups' committed offsets expire on their own."""
    admin = AIOKafkaAdminClient(**login(bootstrap))
    await admin.start()
    try:
        if ours := [name for name in await admin.list_topics() if name.startswith(prefix)]:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
