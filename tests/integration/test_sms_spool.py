"""The SMS intake's spool on the real database and broker (docs/adr/0003): what a gateway hands over is
kept before it is answered, whichever of Kafka and PostgreSQL is away."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaTimeoutError

from services.intake.sms.app import SmsSettings, build_app
from shared.contracts import complaint_id_for
from shared.settings import DatabaseSettings, KafkaSettings
from tests.support.kafka import end_offsets, json_values, read_since
from tests.support.processes import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
KANNEL_KEY = "spool-kannel-key"
NOWHERE = f"postgresql://aduan:aduan@127.0.0.1:{free_port()}/aduan"  # a database that is not there


def intake(infra, topics, database_url: str, **settings) -> tuple:
    app = build_app(SmsSettings(
        kafka=KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, topic_prefix=topics.prefix,
                            publish_timeout_seconds=3),
        db=DatabaseSettings(url=database_url), spool_retry_max_seconds=1,
        status_api_url=f"http://127.0.0.1:{free_port()}", kannel_secret=KANNEL_KEY, **settings))
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sms", timeout=30,
                                  params={"key": KANNEL_KEY})


def kannel(message_id: str, text: str = "SURGA sampah menumpuk di Pasar Setonobetek") -> dict:
    return {"id": message_id, "sender": "081298765432", "text": text}


async def test_a_handled_sms_keeps_its_answer_but_not_the_citizen(infra, topics, own_database_url):
    app, client = intake(infra, topics, own_database_url)
    async with app.router.lifespan_context(app), client:
        message_id = f"k-{uuid.uuid4()}"
        answer = await client.get("/kannel/inbound", params=kannel(message_id))
        again = await client.get("/kannel/inbound", params=kannel(message_id))
    assert answer.status_code == again.status_code == 202 and answer.json() == again.json()
    db = await asyncpg.connect(own_database_url)
    try:
        row = await db.fetchrow("SELECT * FROM intake_sms.inbound_sms WHERE message_id = $1", message_id)
    finally:
        await db.close()
    assert row["handled_at"] is not None and row["sender"] is None and row["text"] is None
    assert "081298765432" not in row["outcome"] and "Setonobetek" not in row["outcome"]


async def test_kafka_away_the_sms_waits_and_goes_out_once_it_is_back(infra, topics, own_database_url, monkeypatch):
    before = await end_offsets(infra.kafka_bootstrap, topics.received)
    app, client = intake(infra, topics, own_database_url)
    async with app.router.lifespan_context(app), client:
        kit = app.state.kit

        async def broker_down(*_args, **_kwargs):
            raise KafkaTimeoutError()

        monkeypatch.setattr(kit.broker, "publish", broker_down)
        ids = [f"k-{uuid.uuid4()}" for _ in range(3)]
        answers = [await client.get("/kannel/inbound", params=kannel(i)) for i in ids]
        assert [(a.status_code, a.json()["reason"]) for a in answers] == [(202, "queued")] * 3
        assert await app.state.spool.waiting() == 3
        monkeypatch.undo()
        records = await read_since(infra.kafka_bootstrap, topics.received, before, until=lambda r: len(r) >= 3)
    assert sorted(e["complaint_id"] for e in json_values(records)) == sorted(
        complaint_id_for("sms", f"kannel:{i}") for i in ids)


async def test_past_its_inline_limit_an_sms_is_kept_and_answered_at_once_then_goes_out_once(
        infra, topics, own_database_url, monkeypatch):
    """Overload: Kafka slow, two SMS being handled; the third is not refused (Kannel would not send it
    again) nor left waiting: it is kept and answered "queued" at once, and every one reaches Kafka once."""
    before = await end_offsets(infra.kafka_bootstrap, topics.received)
    app, client = intake(infra, topics, own_database_url, max_inline=2)
    async with app.router.lifespan_context(app), client:
        kit, slow = app.state.kit, asyncio.Event()
        publish = kit.broker.publish

        async def slow_broker(*args, **kwargs):
            await slow.wait()
            return await publish(*args, **kwargs)

        monkeypatch.setattr(kit.broker, "publish", slow_broker)
        ids = [f"k-{uuid.uuid4()}" for _ in range(3)]
        held = [asyncio.create_task(client.get("/kannel/inbound", params=kannel(i))) for i in ids[:2]]
        await asyncio.sleep(0.5)  # both are being handled, waiting for Kafka
        started = time.monotonic()
        third = await client.get("/kannel/inbound", params=kannel(ids[2]))
        answered_in = time.monotonic() - started
        assert (third.status_code, third.json()["reason"]) == (202, "queued") and answered_in < 1, answered_in
        slow.set()
        assert [a.status_code for a in await asyncio.gather(*held)] == [202, 202]
        records = await read_since(infra.kafka_bootstrap, topics.received, before, until=lambda r: len(r) >= 3)
    assert sorted(e["complaint_id"] for e in json_values(records)) == sorted(
        complaint_id_for("sms", f"kannel:{i}") for i in ids)


async def test_database_away_the_sms_goes_to_kafka_directly(infra, topics):
    before = await end_offsets(infra.kafka_bootstrap, topics.received)
    app, client = intake(infra, topics, NOWHERE)
    async with app.router.lifespan_context(app), client:
        ready = await client.get("/readyz")
        answer = await client.get("/kannel/inbound", params=kannel(message_id := f"k-{uuid.uuid4()}"))
    assert ready.status_code == 200  # Kafka answers, so SMS can be taken
    assert (answer.status_code, answer.json()["complaint_id"]) == (202, complaint_id_for("sms", f"kannel:{message_id}"))
    [record] = await read_since(infra.kafka_bootstrap, topics.received, before, until=lambda r: len(r) >= 1)
    assert json_values([record])[0]["complaint_id"] == answer.json()["complaint_id"]


async def test_both_away_the_gateway_hears_503(infra, topics, monkeypatch):
    app, client = intake(infra, topics, NOWHERE)
    async with app.router.lifespan_context(app), client:
        async def broker_down(*_args, **_kwargs):
            raise KafkaTimeoutError()

        monkeypatch.setattr(app.state.kit.broker, "publish", broker_down)
        answer = await client.get("/kannel/inbound", params=kannel(f"k-{uuid.uuid4()}"))
    assert answer.status_code == 503 and answer.json()["reason"] == "broker_unavailable"
