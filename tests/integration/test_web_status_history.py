"""The web intake's status history from complaints.status.v1, as a real process on the real broker and
database: events out of order and delivered twice, a poison message, and what the public may see."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest

from shared.contracts import Anonymity, ComplaintStatus, EscalationStage, Reporter, Unit
from shared.local_time import wib
from shared.topics import dead_letter_topic
from tests.support import events
from tests.support.kafka import eventually, json_values, publish, publish_events, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

REPORTER = Reporter(name="Siti Aminah", phone="+6281234567890", email="siti@example.id")
TEXT = "Petugas loket minta imbalan untuk tanda tangan surat keterangan"
BPPKAD = Unit(code="bppkad", name="Badan Pendapatan, Pengelolaan Keuangan dan Aset Daerah (BPPKAD)",
              email="bppkad@kedirikota.go.id", head_email="kepala.bppkad@kedirikota.go.id")
RETURN_REASON = "Bukan kewenangan kami, mohon diteruskan ke BPPKAD"
RESPONSE = "Tagihan sudah kami koreksi; silakan cek kembali di loket 3."


@pytest.fixture
def web(processes):
    return processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")


def lifecycle():
    """A complaint that went to one unit, came back, went to BPPKAD and was answered."""
    received = events.received(TEXT, reporter=REPORTER, anonymity=Anonymity.NONE)
    first = events.assignment_for(received)
    changes = [events.status_changed(first, ComplaintStatus.ACKNOWLEDGED, 1),
               events.status_changed(first, ComplaintStatus.RETURNED, 2, RETURN_REASON)]
    second = events.assignment_for(received, 2).model_copy(update={"unit": BPPKAD, "rule_id": "manual"})
    changes += [events.status_changed(second, ComplaintStatus.ACKNOWLEDGED, 3),
                events.status_changed(second, ComplaintStatus.RESPONDED, 4, RESPONSE)]
    return received, first, second, changes  # built in this order: each one's occurred_at is later


async def test_history_from_events_out_of_order_and_redelivered(web, infra, topics, db):
    received, first, second, (ack, returned, ack2, responded) = lifecycle()
    code, bootstrap = received.tracking_code, infra.kafka_bootstrap
    link = events.lapor_linked(second, "LPR-2026-000123")
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        async def status() -> dict | None:
            answer = await http.get(f"/api/v1/complaints/{code}")
            return answer.json() if answer.status_code == 200 else None

        # The status topic first, newest first and twice, with an escalation and a poison message among them.
        await publish_events(bootstrap, topics.status, [responded, ack])
        await publish(bootstrap, topics.status, b'{"event_type": "complaint.status_changed"}',
                      key=received.complaint_id.encode())
        escalation = events.escalated(first, EscalationStage.FORWARD)
        await publish_events(bootstrap, topics.status, [escalation, ack2, link, returned, responded, ack])
        seen = await eventually(lambda: _with_steps(status, 5), timeout=30)
        assert seen, "the status changes after a poison message were not applied"
        assert (seen["status"], seen["unit_code"], seen["received_at"]) == ("ditanggapi", "bppkad", None)

        # The assignments come late, older one last: the status stays where it is. They also say when the
        # complaint came (this intake does not read complaints.received.v1: other channels' reporters are on it).
        await publish_events(bootstrap, topics.assigned, [second, first, second])
        seen = await eventually(lambda: _with_steps(status, 8), timeout=30)
        assert seen, "received and assignments missing from the history"
        page = (await http.get("/status", params={"kode": code.lower().replace("-", " ")})).text

    assert seen["status"] == "ditanggapi" and seen["unit_name"] == BPPKAD.name
    assert seen["description"] == f"Aduan telah ditanggapi oleh {BPPKAD.name}. Tanggapan: {RESPONSE}"
    assert datetime.fromisoformat(seen["received_at"]) == received.received_at  # from the late assignments
    # People read Kota Kediri's time on the page; the API keeps UTC.
    received_local = wib(datetime.fromisoformat(seen["received_at"]))
    assert received_local.endswith(" WIB") and received_local in page and " UTC" not in page
    assert [step["status"] for step in seen["history"]] == [
        "diterima", "diteruskan", "diproses", "dikembalikan", "diteruskan", "diproses", "ditanggapi",
        "tercatat_lapor"]
    assert seen["history"][4]["description"] == f"Aduan diteruskan kepada {BPPKAD.name} untuk ditindaklanjuti."
    assert seen["history"][-1]["description"] == "Aduan tercatat di SP4N-LAPOR! dengan nomor LPR-2026-000123."
    rows = await db.fetch("SELECT entry_key FROM web.status_history WHERE tracking_code = $1", code)
    assert sorted(r["entry_key"] for r in rows) == [
        "assigned:1", "assigned:2", "lapor:LPR-2026-000123", "received", "status:1", "status:2", "status:3",
        "status:4"]

    # The page lists the same steps, newest last.
    steps = re.findall(r"<li><time[^>]*>[^<]*</time> — ([^<]*)</li>", page)
    assert steps == [step["description"] for step in seen["history"]]

    [poison] = await read_topic(bootstrap, dead_letter_topic(topics.status, "intake-web"), until=lambda r: len(r) >= 1)
    assert poison.key == received.complaint_id.encode()

    # Nothing of the reporter, the complaint text, the return reason or the escalation is public.
    api = httpx.Response(200, json=seen).text
    for public in (api, page):
        for secret in ("Siti", "6281234567890", "81234567890", "siti@example.id", TEXT[:20], RETURN_REASON,
                       "kepala.", "ppid@", "eskalasi", "forward", "follow_up", "@"):
            assert secret not in public, secret


async def test_a_late_older_status_change_never_moves_the_status_back(web, infra, topics):
    received, first, second, (ack, _returned, ack2, responded) = lifecycle()
    code, bootstrap = received.tracking_code, infra.kafka_bootstrap
    await publish_events(bootstrap, topics.assigned, [first, second])
    await publish_events(bootstrap, topics.status, [responded])
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        async def status() -> dict | None:
            answer = await http.get(f"/api/v1/complaints/{code}")
            return answer.json() if answer.status_code == 200 else None

        assert await eventually(lambda: _with_steps(status, 4), timeout=30)
        # Older changes, then a sentinel on the same partition: once it shows, the older ones were read.
        await publish_events(bootstrap, topics.status, [ack2, ack, events.lapor_linked(second, "LPR-1")])
        seen = await eventually(lambda: _with_steps(status, 7), timeout=30)
    assert seen and seen["status"] == "ditanggapi"
    assert [step["status"] for step in seen["history"]][-1] == "tercatat_lapor"


async def _with_steps(status, count: int) -> dict | None:
    seen = await status()
    return seen if seen and len(seen["history"]) >= count else None


async def test_a_citizen_replies_to_the_response_on_the_page_or_by_api_and_only_then(web, infra, topics):
    received, first, second, (ack, returned, ack2, responded) = lifecycle()
    code, bootstrap = received.tracking_code, infra.kafka_bootstrap
    await publish_events(bootstrap, topics.assigned, [first, second])
    await publish_events(bootstrap, topics.status, [ack, returned, ack2])
    url = f"/api/v1/complaints/{code}/replies"
    text = "Tagihan saya masih salah di loket 3, mohon dicek lagi"
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        async def status() -> dict | None:
            answer = await http.get(f"/api/v1/complaints/{code}")
            return answer.json() if answer.status_code == 200 else None

        assert await eventually(lambda: _with_steps(status, 6), timeout=30)
        early = await http.post(url, json={"text": text})  # the unit has not answered yet
        assert (early.status_code, early.json()["reason"]) == (409, "not_replyable")
        page = (await http.get("/status", params={"kode": code})).text
        assert 'id="reply-form"' not in page

        await publish_events(bootstrap, topics.status, [responded])
        assert await eventually(lambda: _with_steps(status, 7), timeout=30)
        assert (await http.post("/api/v1/complaints/AAAAA-AAAAA/replies", json={"text": text})).status_code == 404
        assert (await http.post("/api/v1/complaints/nope/replies", json={"text": text})).status_code == 400
        short = await http.post(url, json={"text": "  \u0000 ok  "})
        assert short.status_code == 422
        sent = [await http.post(url, json={"text": text}, headers={"Idempotency-Key": "balas-1"}) for _ in range(2)]
        assert [s.status_code for s in sent] == [202, 202]
        assert sent[0].json()["reply_id"] == sent[1].json()["reply_id"]  # a retry is the same reply

        # The page offers the form once there is a response; CSRF as on the complaint form.
        page = (await http.get("/status", params={"kode": code})).text
        assert 'id="reply-form"' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        submission = re.search(r'name="submission_id" value="([^"]+)"', page).group(1)
        form = {"csrf_token": token, "submission_id": submission, "kode": code, "pesan": "Sudah saya cek, masih salah"}
        assert (await http.post("/status/balas", data={**form, "csrf_token": "forged"})).status_code == 403
        done = await http.post("/status/balas", data=form)
        assert done.status_code == 200 and "Balasan Anda sudah kami terima" in done.text

        # The router's record of the reply: the status says so, and the reply itself stays with the unit.
        await publish_events(bootstrap, topics.status, [events.status_changed(second, ComplaintStatus.REPLIED, 5,
                                                                              text)])
        seen = await eventually(lambda: _with_steps(status, 8), timeout=30)
        page = (await http.get("/status", params={"kode": code})).text
    assert seen["status"] == "dibalas"
    assert seen["description"] == f"Pelapor membalas tanggapan; {BPPKAD.name} akan menanggapi kembali."
    assert text not in httpx.Response(200, json=seen).text and text not in page
    assert 'id="reply-form"' in page  # a second reply is still possible

    replies = json_values(await read_topic(bootstrap, topics.citizen_replies, until=lambda r: len(r) >= 3))
    assert [(r["complaint_id"], r["tracking_code"], r["channel"]) for r in replies] == [
        (received.complaint_id, code, "web")] * 3
    assert [r["text"] for r in replies] == [text, text, "Sudah saya cek, masih salah"]
    assert replies[0]["reply_id"] == replies[1]["reply_id"] != replies[2]["reply_id"]
