"""The router against the real broker and database: assignment, redelivery, dead letters."""

from __future__ import annotations

import pytest

from shared.topics import dead_letter_topic
from tests.support import events
from tests.support.kafka import json_values, publish, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def router(processes):
    return processes.start("router", "services.router", "ADUAN_ROUTER_PORT")


async def test_complaint_is_stored_assigned_and_published(router, infra, topics, db):
    event = events.received("SURGA nama di SPPT PBB masih atas nama pemilik lama")
    await publish(infra.kafka_bootstrap, topics.received, event.model_dump_json().encode(),
                  key=event.complaint_id.encode())

    records = await read_topic(infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 1)
    [assigned] = json_values(records)
    assert assigned["complaint_id"] == event.complaint_id
    assert assigned["unit"]["code"] == "bppkad"
    assert assigned["rule_id"] == "bppkad-pajak-aset"
    assert records[0].key == event.complaint_id.encode()
    row = await db.fetchrow("SELECT unit_code, rule_id, matched_terms, is_fallback FROM router.assignments"
                            " WHERE complaint_id = $1", event.complaint_id)
    assert dict(row) == {"unit_code": "bppkad", "rule_id": "bppkad-pajak-aset",
                         "matched_terms": assigned["matched_terms"], "is_fallback": False}


async def test_redelivered_complaint_gets_no_second_assignment(router, infra, topics, db):
    event = events.received("Hotspot wifi di alun-alun lemot sekali")
    for _ in range(3):  # a gateway retry, or a redelivery after a crash, repeats the same event
        await publish(infra.kafka_bootstrap, topics.received, event.model_dump_json().encode(),
                      key=event.complaint_id.encode())

    records = await read_topic(infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 3)
    published = json_values(records)
    assert len(published) == 3
    # Republished verbatim: the same decision and even the same event id, so consumers dedupe.
    assert len({(p["event_id"], p["assignment_id"], p["unit"]["code"]) for p in published}) == 1
    count = await db.fetchval("SELECT count(*) FROM router.assignments WHERE complaint_id = $1",
                              event.complaint_id)
    assert count == 1


async def test_anonymous_reporter_is_not_carried_to_units(router, infra, topics):
    event = events.received("Ada ASN yang ikut kampanye partai politik saat jam dinas",
                            anonymity=events.Anonymity.RAHASIA)
    await publish(infra.kafka_bootstrap, topics.received, event.model_dump_json().encode(),
                  key=event.complaint_id.encode())
    [assigned] = json_values(await read_topic(infra.kafka_bootstrap, topics.assigned,
                                              until=lambda r: len(r) >= 1))
    assert assigned["reporter_for_unit"] is None
    assert assigned["citizen_contact"]["phone"] == "+6281234567890"  # kept only to answer the citizen


async def test_poison_message_is_dead_lettered_and_the_next_one_flows(router, infra, topics):
    poison = b'{"event_type": "complaint.received", "text": "no id, no channel"}'
    await publish(infra.kafka_bootstrap, topics.received, poison, key=b"same-key")
    good = events.received("Pembayaran PBB lewat bank gagal tapi saldo terpotong")
    await publish(infra.kafka_bootstrap, topics.received, good.model_dump_json().encode(),
                  key=good.complaint_id.encode())

    [dead] = await read_topic(infra.kafka_bootstrap, dead_letter_topic(topics.received, "router"),
                              until=lambda r: len(r) >= 1)
    assert dead.value == poison
    headers = {k: v.decode() for k, v in dead.headers}
    assert "ValidationError" in headers["x-error"] and "complaint_id" in headers["x-error"]
    assert headers["x-original-topic"] == topics.received
    [assigned] = json_values(await read_topic(infra.kafka_bootstrap, topics.assigned,
                                              until=lambda r: len(r) >= 1))
    assert assigned["complaint_id"] == good.complaint_id
