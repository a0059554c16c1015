"""The router against the real broker and database: assignment, redelivery, dead letters."""

from __future__ import annotations

import json

import pytest

from services.router.adapters.postgres import RouterRepository
from services.router.app import MIGRATIONS
from shared import contact_seal
from shared.database import create_pool, migrate
from shared.settings import DatabaseSettings
from shared.topics import dead_letter_topic
from tests.support import events
from tests.support.kafka import eventually, json_values, publish, publish_events, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def router(processes):
    return processes.start("router", "services.router", "ADUAN_ROUTER_PORT")


async def store_without_publishing(database_url: str, event):
    """Store a complaint and its assignment as the router does, and publish nothing."""
    pool = await create_pool(DatabaseSettings(url=database_url), "router")
    try:
        await migrate(pool, "router", MIGRATIONS)
        [stored] = await RouterRepository(pool).assign_batch([event], events.assignment_for)
        return stored
    finally:
        await pool.close()


async def send(infra, topic, event, key: str | None = None) -> None:
    await publish_events(infra.kafka_bootstrap, topic, [event], key=key)


async def test_complaint_is_stored_assigned_and_published(router, infra, topics, db):
    event = events.received("SURGA nama di SPPT PBB masih atas nama pemilik lama")
    await publish_events(infra.kafka_bootstrap, topics.received, [event])

    records = await read_topic(infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 1)
    [assigned] = json_values(records)
    assert assigned["complaint_id"] == event.complaint_id
    assert assigned["unit"]["code"] == "bppkad"
    assert assigned["rule_id"] == "bppkad-pajak-daerah"
    assert records[0].key == event.complaint_id.encode()
    row = await db.fetchrow("SELECT unit_code, rule_id, matched_terms, is_fallback FROM router.assignments"
                            " WHERE complaint_id = $1", event.complaint_id)
    assert dict(row) == {"unit_code": "bppkad", "rule_id": "bppkad-pajak-daerah",
                         "matched_terms": assigned["matched_terms"], "is_fallback": False}


async def test_the_second_opinion_places_what_no_rule_claims_but_not_what_the_rules_declined(router, infra, topics,
                                                                                           db):
    """The router as deployed (second opinion on, trained on the packaged corpus at start-up)."""
    unclaimed = events.received("SURGA PBJT warung sy kok ditagih dobel bulan ini")  # a tax name in no rule
    declined = events.received("petugas PLN minta uang 500rb biar meteran cepat dipasang")  # not a city officer
    await publish_events(infra.kafka_bootstrap, topics.received, [unclaimed, declined])

    records = await read_topic(infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 2)
    decided = {v["complaint_id"]: v for v in json_values(records)}
    placed, left = decided[unclaimed.complaint_id], decided[declined.complaint_id]
    assert (placed["unit"]["code"], placed["is_fallback"]) == ("bppkad", False)
    assert placed["rule_id"].startswith("model:") and placed["matched_terms"]  # its version, the words that weighed
    assert (left["unit"]["code"], left["rule_id"], left["is_fallback"]) == ("diskominfo", "fallback", True)
    stored = await db.fetchval("SELECT rule_id FROM router.assignments WHERE complaint_id = $1",
                               unclaimed.complaint_id)
    assert stored == placed["rule_id"]


async def test_redelivered_complaint_gets_no_second_assignment(router, infra, topics, db):
    event = events.received("Hotspot wifi di alun-alun lemot sekali")
    for _ in range(3):  # a gateway retry, or a redelivery after a crash, repeats the same event
        await send(infra, topics.received, event)
    # Same key, same partition, after the copies: once it is assigned, all copies were handled.
    sentinel = events.received("Pohon tumbang di jalan")
    await send(infra, topics.received, sentinel, key=event.complaint_id)

    records = await read_topic(infra.kafka_bootstrap, topics.assigned,
                               until=lambda r: sentinel.complaint_id in {v["complaint_id"] for v in json_values(r)})
    published = [v for v in json_values(records) if v["complaint_id"] == event.complaint_id]
    assert len(published) == 1
    count = await db.fetchval("SELECT count(*) FROM router.assignments WHERE complaint_id = $1",
                              event.complaint_id)
    assert count == 1


async def test_assignment_stored_but_never_published_is_published_on_redelivery(processes, infra, topics,
                                                                               database_url, db):
    """The state a crash leaves between the database commit and the publish."""
    event = events.received("SURGA produk hukum daerah tahun 2021 belum diunggah ke JDIH")
    stored = await store_without_publishing(database_url, event)
    assert stored.created and not stored.published

    # Slow outbox, so it is the redelivered ComplaintReceived that publishes here.
    processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {"ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "600"})
    await send(infra, topics.received, event)
    [assigned] = json_values(await read_topic(infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 1))
    assert assigned["event_id"] == stored.event.event_id  # the stored decision, not a new one
    assert assigned["unit"]["code"] == "hukum"
    assert await db.fetchval("SELECT count(*) FROM router.assignments WHERE complaint_id = $1", event.complaint_id) == 1
    assert await eventually(lambda: db.fetchval(
        "SELECT published_at IS NOT NULL FROM router.assignments WHERE complaint_id = $1", event.complaint_id))


async def test_outbox_publishes_what_was_stored_without_any_redelivery(processes, infra, topics, database_url):
    event = events.received("Pembayaran PBB lewat bank gagal tapi saldo terpotong")
    stored = await store_without_publishing(database_url, event)
    processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {"ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "0.5"})
    records = await read_topic(infra.kafka_bootstrap, topics.assigned,
                               until=lambda r: stored.event.event_id in {v["event_id"] for v in json_values(r)})
    assert stored.event.event_id in {v["event_id"] for v in json_values(records)}


async def test_anonymous_reporter_is_not_carried_to_units(router, infra, topics):
    event = events.received("Ada ASN yang ikut kampanye partai politik saat jam dinas",
                            anonymity=events.Anonymity.RAHASIA)
    await publish_events(infra.kafka_bootstrap, topics.received, [event])
    [assigned] = json_values(await read_topic(infra.kafka_bootstrap, topics.assigned,
                                              until=lambda r: len(r) >= 1))
    assert assigned["reporter_for_unit"] is None and "+6281234567890" not in json.dumps(assigned)
    # Kept only to answer the citizen, sealed for the notifier.
    assert json.loads(contact_seal.open_sealed(assigned["sealed_contact"]))["phone"] == "+6281234567890"


@pytest.mark.parametrize("poison", [
    b'{"event_type": "complaint.received", "text": "no id, no channel"}',
    b"not json at all",
    None,  # a valid event whose text is blank: built below
])
async def test_poison_message_is_dead_lettered_and_the_next_one_flows(router, infra, topics, poison):
    if poison is None:
        blank = events.received("Lampu mati").model_dump(mode="json")
        blank["text"] = "   "
        poison = json.dumps(blank).encode()
    await publish(infra.kafka_bootstrap, topics.received, poison, key=b"same-key")
    good = events.received("Pembayaran PBB lewat bank gagal tapi saldo terpotong")
    await publish_events(infra.kafka_bootstrap, topics.received, [good])

    [dead] = await read_topic(infra.kafka_bootstrap, dead_letter_topic(topics.received, "router"),
                              until=lambda r: len(r) >= 1)
    assert dead.value == poison
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["x-error"] and headers["x-consumer"] == "router"
    assert headers["x-original-topic"] == topics.received
    [assigned] = json_values(await read_topic(infra.kafka_bootstrap, topics.assigned,
                                              until=lambda r: len(r) >= 1))
    assert assigned["complaint_id"] == good.complaint_id
