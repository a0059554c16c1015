"""The SMS intake reading a Gammu SMSD inbox table on the real database and publishing to real Kafka."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka.errors import KafkaTimeoutError

from services.intake.sms.app import SmsSettings, build_app
from shared.settings import DatabaseSettings, KafkaSettings
from tests.support.kafka import end_offsets, json_values, read_topic
from tests.support.processes import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
SCHEMA = (Path(__file__).resolve().parents[1] / "data" / "gammu_inbox.sql").read_text()


@pytest.fixture
async def gammu_db(infra):
    """A database shaped like Gammu SMSD's, as the modem host would have it."""
    name = f"gammu_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"{infra.database_url.rpartition('/')[0]}/{name}"
    conn = await asyncpg.connect(url)
    await conn.execute(SCHEMA)
    yield url, conn
    await conn.close()
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def add_sms(conn, sender: str, text: str) -> int:
    return await conn.fetchval(
        """INSERT INTO inbox ("ReceivingDateTime", "Text", "SenderNumber", "UDH", "TextDecoded", "RecipientID")
           VALUES ('2026-11-27 09:30:00', '', $1, '', $2, 'modem1') RETURNING "ID" """, sender, text)


@pytest.fixture
async def sms_app(infra, topics, database_url, gammu_db):
    url, _ = gammu_db
    app = build_app(SmsSettings(kafka=KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, topic_prefix=topics.prefix,
                                                    publish_timeout_seconds=3),
                                db=DatabaseSettings(url=database_url), gammu_database_url=url,
                                gammu_poll_seconds=3600,  # polled by hand below
                                status_api_url=f"http://127.0.0.1:{free_port()}"))  # a status API that is down
    async with app.router.lifespan_context(app):
        yield app


async def test_inbox_rows_are_published_then_marked_processed(sms_app, gammu_db, infra, topics):
    _, conn = gammu_db
    complaint = await add_sms(conn, "081234567890", "SURGA lampu jalan mati di Jl. Dhoho")
    not_a_complaint = await add_sms(conn, "081234567891", "halo admin")
    assert await sms_app.state.gammu.poll_once() == 2

    [event] = json_values(await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= 1))
    assert event["text"] == "lampu jalan mati di Jl. Dhoho" and event["reporter"]["phone"] == "+6281234567890"
    assert event["channel_message_id"] == f"gammu-modem1:{complaint}"
    assert event["received_at"].startswith("2026-11-27T09:30:00") and event["received_at"].endswith("+07:00")
    [reply] = json_values(await read_topic(infra.kafka_bootstrap, topics.replies, until=lambda r: len(r) >= 1))
    assert (reply["to"], reply["reason"]) == ("+6281234567891", "format_help")
    processed = await conn.fetch('SELECT "ID" FROM inbox WHERE "Processed" ORDER BY "ID"')
    assert [r["ID"] for r in processed] == [complaint, not_a_complaint]
    assert await sms_app.state.gammu.poll_once() == 0  # nothing twice


async def test_rows_stay_unprocessed_while_kafka_is_down(sms_app, gammu_db, infra, topics, monkeypatch):
    _, conn = gammu_db
    row = await add_sms(conn, "081234567890", "SURGA sampah menumpuk di Pasar Setonobetek")
    kit = sms_app.state.kit

    async def broker_down(*_args, **_kwargs):
        raise KafkaTimeoutError()

    monkeypatch.setattr(kit.broker, "publish", broker_down)
    assert await sms_app.state.gammu.poll_once() == 0
    assert await conn.fetchval('SELECT "Processed" FROM inbox WHERE "ID" = $1', row) is False
    monkeypatch.undo()
    assert await sms_app.state.gammu.poll_once() == 1
    assert await conn.fetchval('SELECT "Processed" FROM inbox WHERE "ID" = $1', row) is True
    records = await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= 1)
    assert [v["channel_message_id"] for v in json_values(records)] == [f"gammu-modem1:{row}"]


async def test_an_unusable_row_is_marked_and_does_not_block_the_rest(sms_app, gammu_db, infra, topics):
    _, conn = gammu_db
    bad = await add_sms(conn, "ABC", "SURGA nomor pengirim rusak")
    good = await add_sms(conn, "081234567890", "SURGA jalan berlubang")
    assert await sms_app.state.gammu.poll_once() == 2
    records = await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= 1)
    assert [v["channel_message_id"] for v in json_values(records)] == [f"gammu-modem1:{good}"]
    assert await conn.fetchval('SELECT "Processed" FROM inbox WHERE "ID" = $1', bad) is True


async def test_a_status_check_stays_unprocessed_while_the_status_api_is_down(sms_app, gammu_db, infra, topics):
    _, conn = gammu_db
    before = await end_offsets(infra.kafka_bootstrap, topics.replies)
    check = await add_sms(conn, "081234567890", "SURGA CEK K7M2Q-9XD4T")
    assert await sms_app.state.gammu.poll_once() == 0
    assert await conn.fetchval('SELECT "Processed" FROM inbox WHERE "ID" = $1', check) is False
    assert await end_offsets(infra.kafka_bootstrap, topics.replies) == before  # no reply, not even a wrong one
