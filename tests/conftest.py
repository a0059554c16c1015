"""Fixtures shared by the integration and end-to-end tests: real Kafka, real PostgreSQL.

Each test session gets its own database; each stack of services gets its own topic prefix,
so tests never see each other's events, nor the data of a `make run` on the same machine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.migrate import migrate_all
from shared import kafka_access
from shared.kafka import client_options
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import Topics, create_topics
from tests.support.infra import LOCAL_KAFKA_ADMIN, Infra, find_infra
from tests.support.processes import KAFKA_PASSWORDS, ROLE_PASSWORDS, TEST_ENV, Processes

# Services built in this process (handler and security tests) have their secrets as separate processes do;
# this process's Kafka clients log in as the local broker's admin.
for _name, _value in {**TEST_ENV, **LOCAL_KAFKA_ADMIN}.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with ExitStack() as stack:
        yield find_infra(stack)


@asynccontextmanager
async def fresh_database(infra: Infra, prefix: str, roles: bool = True) -> AsyncIterator[str]:
    """A new database on the test cluster, dropped afterwards; with each service's role owning its schema
    (`roles`, as the migration Job leaves production's), unless the test is about making them."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{infra.database_url.rpartition('/')[0]}/{name}"
    if roles:
        await migrate_all(DatabaseSettings(url=url), ROLE_PASSWORDS)
    try:
        yield url
    finally:
        admin = await asyncpg.connect(infra.database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def database_url(infra: Infra) -> AsyncIterator[str]:
    """A fresh database for this session, dropped at the end."""
    async with fresh_database(infra, "aduan_test") as url:
        yield url


@pytest.fixture
async def own_database_url(infra: Infra) -> AsyncIterator[str]:
    """A database for this test alone: the SMS intake's spool and the notifier's job queue hand what waits
    in them to whichever service runs on that database, so one test's leftovers must not reach another's
    stack where a test counts what goes out."""
    async with fresh_database(infra, "aduan_own") as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def kafka_logins() -> bool:
    """The broker takes logins, so enforces ACLs (the local one; not testcontainers')."""
    return bool(os.environ.get("ADUAN_KAFKA_USERNAME"))


async def as_kafka_admin(infra: Infra, action: Callable[[AIOKafkaAdminClient], Awaitable[object]]) -> None:
    admin = AIOKafkaAdminClient(**client_options(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap)))
    await admin.start()
    try:
        await action(admin)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def kafka_users(infra: Infra) -> None:
    """Each service's user, with the password the services the tests start log in with."""
    if kafka_logins():
        await as_kafka_admin(infra, lambda admin: kafka_access.set_passwords(admin, KAFKA_PASSWORDS))


@pytest.fixture
async def topics(infra: Infra, kafka_users: None) -> AsyncIterator[Topics]:
    """Fresh topics under a prefix of their own, each service allowed its own of them (shared/kafka_access.py),
    deleted afterwards: a single local broker holding every test's partitions (thousands in a full run) runs
    out of heap."""
    topics = Topics(prefix=f"t{uuid.uuid4().hex[:8]}.")
    await create_topics(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap), topics)
    if kafka_logins():
        await as_kafka_admin(infra, lambda admin: kafka_access.grant(admin, topics))
    yield topics

    async def tidy(admin: AIOKafkaAdminClient) -> None:
        await admin.delete_topics(list(topics.all_topics()))
        if kafka_logins():
            await kafka_access.revoke(admin, topics)
    try:
        await as_kafka_admin(infra, tidy)
    except KafkaError:
        pass  # a broker a fault test left down: nothing to tidy


@pytest.fixture
def processes(infra: Infra, database_url: str, topics: Topics, tmp_path: Path) -> Iterator[Processes]:
    """Starts services as separate processes wired to this test's topics and the session database."""
    procs = Processes(
        env={
            "ADUAN_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "ADUAN_KAFKA_TOPIC_PREFIX": topics.prefix,
            "ADUAN_DB_URL": database_url,
        },
        log_dir=tmp_path,
        database_roles=True,
        kafka_users=kafka_logins(),
    )
    yield procs
    started = list(procs.running)
    procs.stop_all()
    # Shown only when the test failed (pytest keeps a passing test's output to itself): what each service said last.
    for service in started:
        print(f"--- {service.name}, last lines ---\n" + "\n".join(service.log().splitlines()[-25:]))


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real SMTP server (the project's aiosmtpd stand-in) writing to a Maildir."""
    from standins.smtp_sink import start
    from tests.support.processes import free_port

    port, maildir = free_port(), tmp_path / "mail"
    controller = start(maildir, port)
    yield port, maildir
    controller.stop()


def standin(processes: Processes, name: str, module: str, port_env: str):
    """A stand-in server as its own process; each serves its OpenAPI document once it is up."""
    return processes.start(name, module, port_env, ready_path="/openapi.json")


@pytest.fixture
def lapor_standin(processes: Processes):
    return standin(processes, "lapor-standin", "standins.lapor", "ADUAN_LAPOR_STANDIN_PORT")


@pytest.fixture
def sms_standin(processes: Processes):
    return standin(processes, "sms-standin", "standins.sms_gateway", "ADUAN_SMS_STANDIN_PORT")


@pytest.fixture
def whatsapp_standin(processes: Processes):
    return standin(processes, "whatsapp-standin", "standins.whatsapp_cloud", "ADUAN_WHATSAPP_STANDIN_PORT")


@pytest.fixture
def webhook_sink(processes: Processes):
    return standin(processes, "webhook-sink", "standins.webhook_sink", "ADUAN_WEBHOOK_SINK_PORT")


# Deliveries retry within a second in tests (production: 5 s doubling to 10 minutes).
FAST_RETRIES = {"RETRY_BASE_SECONDS": "0.2", "RETRY_MAX_SECONDS": "1", "RETRY_MAX_ATTEMPTS": "200",
                "LEASE_SECONDS": "5"}


def fast_retries(prefix: str, **overrides: str) -> dict[str, str]:
    return {f"{prefix}{key}": value for key, value in {**FAST_RETRIES, **overrides}.items()}
