"""`SURGA CEK <kode>` on the real broker: the SMS intake asks a running web intake's status API and the
reply lands on citizen.replies.v1; when that API is down the SMS waits in the intake's spool and is
answered once the API is back."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.intake.sms import contract as sms_contract
from services.intake.sms.app import SmsSettings, build_app
from shared.contracts import ComplaintStatus, Reporter
from shared.settings import DatabaseSettings, KafkaSettings
from tests.support import events
from tests.support.kafka import end_offsets, eventually, json_values, publish_events, read_since

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
PUBLIC = "https://surga.kedirikota.go.id"
CITIZEN = "081298765432"


@asynccontextmanager
async def sms_intake(infra, topics, database_url, status_api_url: str):
    app = build_app(SmsSettings(
        kafka=KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, topic_prefix=topics.prefix,
                            publish_timeout_seconds=5),
        db=DatabaseSettings(url=database_url), gateway_secret=sms_contract.SECRET, status_api_url=status_api_url,
        public_base_url=PUBLIC, spool_retry_max_seconds=2, kannel_secret=sms_contract.KANNEL_SECRET))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sms", timeout=30,
                                     params={"key": sms_contract.KANNEL_SECRET}) as client:
            yield client


@pytest.fixture
async def seeded(processes, infra, topics):
    """A web intake that knows one complaint, taken on by its unit: seeded through Kafka."""
    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    received = events.received("Petugas loket minta imbalan untuk tanda tangan surat",
                               reporter=Reporter(phone="+6281234567890"))
    assigned = events.assignment_for(received)
    taken_on = events.status_changed(assigned, ComplaintStatus.ACKNOWLEDGED, 1)
    await publish_events(infra.kafka_bootstrap, topics.received, [received])
    await publish_events(infra.kafka_bootstrap, topics.assigned, [assigned])
    await publish_events(infra.kafka_bootstrap, topics.status, [taken_on])

    assert await shows(web, received.tracking_code, "diproses"), "the web intake did not take the seed events"
    return web, assigned, taken_on


async def shows(web, code: str, status: str) -> bool:
    """Whether the web intake's status API comes to show `status` for `code` (polled)."""
    async with httpx.AsyncClient(base_url=web.url, timeout=5) as http:
        async def showing() -> bool:
            answer = await http.get(f"/api/v1/complaints/{code}")
            return answer.status_code == 200 and answer.json()["status"] == status

        return await eventually(showing, timeout=30)


async def test_status_check_for_a_known_and_an_unknown_code(seeded, infra, topics, own_database_url):
    web, assigned, taken_on = seeded
    code = assigned.tracking_code
    replies_before = await end_offsets(infra.kafka_bootstrap, topics.replies)
    received_before = await end_offsets(infra.kafka_bootstrap, topics.received)
    async with sms_intake(infra, topics, own_database_url, web.url) as sms:
        # Kannel, the code typed in lower case with a space instead of the dash.
        typed = f"{code[:5]} {code[6:]}".lower()
        known = await sms.get("/kannel/inbound", params={"id": "k-cek-1", "sender": CITIZEN, "receiver": "1708",
                                                         "text": f"surga Cek {typed}"})
        body = json.dumps({"message_id": "g-cek-2", "sender": CITIZEN, "text": "SURGA CEK AAAAA-AAAAA"}).encode()
        unknown = await sms.post("/api/v1/sms/inbound", content=body, headers=sms_contract.signed(body))
    assert (known.status_code, known.json()["reason"]) == (202, "status_check")
    assert (unknown.status_code, unknown.json()["reason"]) == (202, "status_check")

    replies = json_values(await read_since(infra.kafka_bootstrap, topics.replies, replies_before,
                                           until=lambda r: len(r) >= 2))
    by_id = {reply["reply_id"]: reply for reply in replies}
    assert set(by_id) == {"status:kannel:k-cek-1", "status:generic:g-cek-2"}
    day = taken_on.occurred_at.astimezone(ZoneInfo("Asia/Jakarta")).strftime("%d-%m-%Y")
    answer = by_id["status:kannel:k-cek-1"]
    assert answer["text"] == (f"SURGA: aduan {code} sedang diproses Inspektorat Kota Kediri ({day})."
                              f" Rincian: {PUBLIC}/status?kode={code}")
    assert (answer["to"], answer["reason"], answer["gateway"], answer["channel"]) == (
        "+6281298765432", "status", "kannel", "sms")
    assert len(answer["text"]) <= 160
    assert by_id["status:generic:g-cek-2"]["text"] == (
        f"SURGA: kode aduan AAAAA-AAAAA tidak ditemukan. Periksa kembali kodenya, atau cek di {PUBLIC}/status")
    # A status check is not a complaint.
    assert await end_offsets(infra.kafka_bootstrap, topics.received) == received_before


async def test_status_check_while_the_status_api_is_down_is_answered_once_it_is_back(
        seeded, processes, infra, topics, own_database_url):
    web, assigned, _ = seeded
    replies_before = await end_offsets(infra.kafka_bootstrap, topics.replies)
    received_before = await end_offsets(infra.kafka_bootstrap, topics.received)
    processes.stop(web)
    async with sms_intake(infra, topics, own_database_url, web.url) as sms:
        answer = await sms.get("/kannel/inbound", params={"id": "k-cek-3", "sender": CITIZEN,
                                                          "text": f"SURGA CEK {assigned.tracking_code}"})
        # Kannel does not ask again: the SMS is kept, the gateway told it is accepted, nothing sent yet.
        assert (answer.status_code, answer.json()["reason"]) == (202, "queued")
        assert await end_offsets(infra.kafka_bootstrap, topics.replies) == replies_before
        processes.start("web", "services.intake.web", "ADUAN_WEB_PORT", port=web.port)
        replies = json_values(await read_since(infra.kafka_bootstrap, topics.replies, replies_before,
                                               until=lambda r: len(r) >= 1, timeout=60))
    assert [(r["reply_id"], r["to"]) for r in replies] == [("status:kannel:k-cek-3", "+6281298765432")]
    assert f"aduan {assigned.tracking_code} sedang diproses" in replies[0]["text"]
    assert await end_offsets(infra.kafka_bootstrap, topics.received) == received_before


async def test_a_reply_by_sms_goes_on_only_once_the_unit_has_responded(seeded, infra, topics, own_database_url):
    web, assigned, _ = seeded
    code = assigned.tracking_code
    replies_before = await end_offsets(infra.kafka_bootstrap, topics.replies)
    citizen_before = await end_offsets(infra.kafka_bootstrap, topics.citizen_replies)
    async with sms_intake(infra, topics, own_database_url, web.url) as sms:
        early = await sms.get("/kannel/inbound", params={"id": "k-balas-1", "sender": CITIZEN,
                                                         "text": f"SURGA BALAS {code} kapan ditanggapi?"})
        assert (early.status_code, early.json()["reason"]) == (202, "reply_to_response")
        # Words that read as a code (KAS1H-WARGA) that no complaint has: a complaint after all.
        words = await sms.get("/kannel/inbound", params={"id": "k-balas-0", "sender": CITIZEN,
                                                         "text": "SURGA balas kasih warga: jalan desa rusak parah"})
        assert (words.status_code, words.json()["complaint"]) == (202, True)
        responded = events.status_changed(assigned, ComplaintStatus.RESPONDED, 2, "Petugas sudah kami tegur.")
        await publish_events(infra.kafka_bootstrap, topics.status, [responded])
        assert await shows(web, code, "ditanggapi")
        for _ in range(2):  # the gateway delivers it twice: one reply, the same answer twice
            taken = await sms.get("/kannel/inbound", params={"id": "k-balas-2", "sender": CITIZEN,
                                                             "text": f"surga balas {code.lower()} masih minta imbalan"})
            assert (taken.status_code, taken.json()["reason"]) == (202, "reply_to_response")

    # Two answers: k-balas-2 delivered twice is answered twice over HTTP but published once (the spool).
    answers = json_values(await read_since(infra.kafka_bootstrap, topics.replies, replies_before,
                                           until=lambda r: len(r) >= 2))
    by_id = {a["reply_id"]: a["text"] for a in answers}
    assert sorted(by_id) == ["status:kannel:k-balas-1", "status:kannel:k-balas-2"]
    assert "belum dapat dibalas" in by_id["status:kannel:k-balas-1"]
    assert by_id["status:kannel:k-balas-2"] == (
        f"SURGA: balasan Anda untuk aduan {code} diteruskan ke Inspektorat Kota Kediri. "
        "Aduan tetap terbuka sampai unit menanggapi kembali.")
    replies = json_values(await read_since(infra.kafka_bootstrap, topics.citizen_replies, citizen_before,
                                           until=lambda r: len(r) >= 1))
    # The spool knew the redelivery: published once (the router would also record a second copy once).
    assert [(r["complaint_id"], r["tracking_code"], r["channel"], r["text"]) for r in replies] == [
        (assigned.complaint_id, code, "sms", "masih minta imbalan")]
