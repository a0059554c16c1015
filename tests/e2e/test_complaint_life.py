"""One complaint's whole life on the running system, every service a separate process: an SMS
complaint reaches BPPKAD, which opens the signed link in its mail, answers in the inbox; the
citizen gets the answer by SMS, LAPOR! gets the follow-up, the status page and `SURGA CEK` show
it; the citizen writes back, BPPKAD answers again; ten silent working days later (moved forward in
the router's table) it closes by itself. A reply that does not fit is dead-lettered with its reason.
A second complaint, received weeks ago and never answered, escalates to the head and the PPID."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.contracts import (
    CitizenReplied,
    ComplaintReceived,
    Reporter,
    citizen_reply_id_for,
    status_change_id_for,
)
from shared.topics import dead_letter_topic
from standins.smtp_sink import read_maildir
from tests.support.inbox import open_link, operator_sign_in
from tests.support.kafka import eventually, publish_events, read_topic
from tests.support.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
INBOX_SECRET = "e2e-inbox-secret-0123456789abcdef"
GATEWAY = {"X-Gateway-Secret": "e2e-gateway-secret"}
LAPOR = {"Authorization": "Bearer local-standin-token"}
CITIZEN = "081298765432"
OPERATOR_PASSWORD, RECORD_TOKEN = "e2e-operator-pass", "e2e-delivery-record-token"


@pytest.fixture
def stack(processes, smtp_server, lapor_standin, sms_standin, own_database_url):
    smtp_port, maildir = smtp_server
    notifier_port, lapor_sync_port = free_port(), free_port()  # the back-office reads their delivery records
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps({"bppkad": "bppkad-pass"}),
        "ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"ani": OPERATOR_PASSWORD}),
        "ADUAN_ROUTER_INBOX_SECRET": INBOX_SECRET, "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false",
        "ADUAN_ROUTER_DEADLINE_CHECK_SECONDS": "1", "ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "1",
        "ADUAN_ROUTER_NOTIFIER_URL": f"http://127.0.0.1:{notifier_port}",
        "ADUAN_ROUTER_LAPOR_SYNC_URL": f"http://127.0.0.1:{lapor_sync_port}",
        "ADUAN_ROUTER_DELIVERY_RECORD_TOKEN": RECORD_TOKEN})
    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    services = {
        "router": router, "web": web,
        "notifier": processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
            "ADUAN_NOTIFIER_SMTP_PORT": str(smtp_port), "ADUAN_NOTIFIER_INBOX_SECRET": INBOX_SECRET,
            "ADUAN_NOTIFIER_INBOX_BASE_URL": router.url,
            # The signed HTTP gateway (a stand-in); real Kannel and Gammu: tests/gateways.
            "ADUAN_NOTIFIER_SMS_GATEWAYS": "[\"generic\"]",
            "ADUAN_NOTIFIER_GENERIC_SMS_URL": f"{sms_standin.url}/api/v1/messages",
            "ADUAN_NOTIFIER_RECORD_TOKEN": RECORD_TOKEN}, port=notifier_port),
        "lapor_sync": processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT",
                                      {"ADUAN_LAPOR_SYNC_LAPOR_BASE_URL": lapor_standin.url,
                                       "ADUAN_LAPOR_SYNC_RECORD_TOKEN": RECORD_TOKEN}, port=lapor_sync_port),
        "sms": processes.start("sms", "services.intake.sms", "ADUAN_SMS_PORT", {
            "ADUAN_SMS_GATEWAY_SECRET": "e2e-gateway-secret", "ADUAN_SMS_STATUS_API_URL": web.url,
            "ADUAN_DB_URL": own_database_url}),  # the spool: nothing of this test's waits for another's
    }
    return services, maildir


async def test_a_complaint_is_answered_in_the_inbox_followed_everywhere_and_closes_after_silence(
        stack, lapor_standin, sms_standin, db):
    services, maildir = stack
    async with httpx.AsyncClient(timeout=15) as http:
        sent = await http.post(services["sms"].url + "/api/v1/sms/inbound", headers=GATEWAY, json={
            "message_id": f"life-{time.time_ns()}", "sender": CITIZEN,
            "text": "SURGA nama di SPPT PBB masih atas nama pemilik lama"})
        assert sent.status_code == 202, sent.text
        code, complaint_id = sent.json()["tracking_code"], sent.json()["complaint_id"]
        status_url = f"{services['web'].url}/api/v1/complaints/{code}"

        # 1. BPPKAD's mail carries a signed link into its inbox.
        [mail] = await eventually(lambda: [m for m in read_maildir(maildir) if code in m["Subject"]], timeout=60)
        assert mail["To"] == "bppkad@kedirikota.go.id"
        link = re.search(r"(http://\S+/unit/tautan\?t=\S+)", mail.get_payload(decode=True).decode()).group(1)
        async with httpx.AsyncClient(timeout=15, follow_redirects=True) as browser:
            page = await open_link(browser, link)
            assert page.status_code == 200 and "SPPT PBB" in page.text
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
            for action, form in [("terima", {}), ("tanggapi", {"pesan": "Nama di SPPT sudah kami betulkan, "
                                                                         "silakan ambil di loket BPPKAD"})]:
                answer = await browser.post(f"{services['router'].url}/unit/aduan/{code}/{action}",
                                            data={"csrf": csrf, **form})
                assert answer.status_code == 200, (action, answer.text)  # back on the complaint's page
            assert "ditanggapi" in answer.text

        # 2. The citizen gets the answer by SMS (after the acknowledgement), LAPOR! the follow-up.
        def texts_to_citizen() -> list[str]:
            items = httpx.get(f"{sms_standin.url}/_standin/messages").json()["items"]
            return [i["text"] for i in items if i["to"].endswith("81298765432")]

        answered = await eventually(lambda: [t for t in texts_to_citizen() if "betulkan" in t], timeout=60)
        assert code in answered[0]

        async def lapor_report() -> dict | None:
            items = (await http.get(lapor_standin.url + "/api/v1/reports", headers=LAPOR)).json()["items"]
            return next((i for i in items if i["reference"] == complaint_id), None)

        report = await eventually(lambda: _with(lapor_report, lambda r: r["status"] == "Ditindaklanjuti"), timeout=60)
        assert [f["reference"] for f in report["followups"]] == [status_change_id_for(complaint_id, 2)]

        # 2b. The PPID back-office shows the whole way: the LAPOR! number and every delivery, from the
        #     notifier's and lapor_sync's own records; never the citizen's number.
        expected = {("e-mail ke unit", "terkirim"), ("laporan SP4N-LAPOR!", "terkirim"),
                    ("kabar status ke pelapor", "terkirim")}
        async with httpx.AsyncClient(base_url=services["router"].url, timeout=15) as clerk:
            assert (await operator_sign_in(clerk, "ani", OPERATOR_PASSWORD)).status_code == 303

            async def case_page() -> str | None:
                page = (await clerk.get(f"/ppid/aduan/{code}")).text
                delivered = set(re.findall(r"<td>([^<]+)</td>\s*<td>(terkirim)</td>", page))
                return page if expected <= delivered else None

            page = await eventually(case_page, timeout=30, what="the back-office showing the deliveries done")
        assert f"nomor <strong>{report['tracking_id']}</strong>" in page and "tidak dapat diambil" not in page
        # The number once, where the reporter (not anonymous) let it be seen; the delivery records carry none.
        assert page.count("98765432") == 1 and "98765432" not in page.split("<h2>Pengiriman</h2>")[1]

        # 3. The status page and `SURGA CEK` show it.
        history = await eventually(lambda: _with(lambda: _json(http, status_url),
                                                 lambda s: s["status"] == "ditanggapi"), timeout=60)
        assert [h["status"] for h in history["history"]][:2] == ["diterima", "diteruskan"]
        check = await http.post(services["sms"].url + "/api/v1/sms/inbound", headers=GATEWAY, json={
            "message_id": f"cek-{time.time_ns()}", "sender": CITIZEN, "text": f"surga cek {code.lower()}"})
        assert check.status_code == 202, check.text
        assert await eventually(lambda: [t for t in texts_to_citizen() if code in t and "tanggap" in t.lower()
                                         and "betulkan" not in t], timeout=60)

        # 4. The citizen writes back on the status page's API: BPPKAD gets the reply by mail, the
        #    closure clock stops until BPPKAD answers again, in the inbox the reply mail links to.
        reply = "Sudah saya ambil, tapi nama ayah saya juga salah"
        sent = await http.post(f"{status_url}/replies", json={"text": reply}, headers={"Idempotency-Key": "r1"})
        assert sent.status_code == 202, sent.text
        [reply_mail] = await eventually(lambda: [m for m in read_maildir(maildir) if "membalas" in m["Subject"]
                                                 and code in m["Subject"]], timeout=60)
        reply_body = reply_mail.get_payload(decode=True).decode()
        assert reply_mail["To"] == "bppkad@kedirikota.go.id" and reply in reply_body
        await eventually(lambda: _with(lambda: _json(http, status_url), lambda s: s["status"] == "dibalas"),
                         timeout=60, what="the status page showing 'dibalas'")
        row = await db.fetchrow("SELECT status, close_due, answer_due FROM router.complaints"
                                " WHERE complaint_id = $1", complaint_id)
        assert (row["status"], row["close_due"]) == ("replied", None) and row["answer_due"]
        link = re.search(r"(http://\S+/unit/tautan\?t=\S+)", reply_body).group(1)
        async with httpx.AsyncClient(timeout=15, follow_redirects=True) as browser:
            page = await open_link(browser, link)
            assert page.status_code == 200 and reply in page.text and "dibalas pelapor" in page.text
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
            again = await browser.post(f"{services['router'].url}/unit/aduan/{code}/tanggapi",
                                       data={"csrf": csrf, "pesan": "Nama ayah juga sudah kami betulkan"})
            assert again.status_code == 200 and "ditanggapi" in again.text
        await eventually(lambda: [t for t in texts_to_citizen() if "Nama ayah juga" in t], timeout=60,
                         what="BPPKAD's second answer in an SMS to the citizen")

        # 5. Ten working days of silence: moved forward in the router's own table, then the
        #    deadline watcher closes it, and everyone hears.
        await db.execute("UPDATE router.complaints SET close_due = current_date - 1 WHERE complaint_id = $1",
                         complaint_id)
        await eventually(lambda: _with(lambda: _json(http, status_url), lambda s: s["status"] == "ditutup"), timeout=60,
                         what="the status page showing 'ditutup'")
        await eventually(lambda: [t for t in texts_to_citizen() if "ditutup" in t], timeout=60,
                         what="an SMS telling the citizen the complaint is closed")
        await eventually(lambda: _with(lapor_report, lambda r: r["status"] == "Selesai"), timeout=60,
                         what="the LAPOR! report at 'Selesai'")
        status = await db.fetchval("SELECT status FROM router.complaints WHERE complaint_id = $1", complaint_id)
        assert status == "closed"


async def test_an_old_unanswered_complaint_escalates_once_to_the_head_and_the_ppid(stack, infra, topics, db):
    services, maildir = stack
    old = ComplaintReceived.new(channel="web", channel_message_id=f"old-{time.time_ns()}",
                                text="SURGA nama di SPPT PBB masih atas nama pemilik lama", producer="tests",
                                reporter=Reporter(name="Siti Aminah", phone="+6281234567890"),
                                received_at=datetime.now(UTC) - timedelta(days=30))
    await publish_events(infra.kafka_bootstrap, topics.received, [old])

    def escalations() -> list:
        return [m for m in read_maildir(maildir) if "ESKALASI" in m["Subject"] and old.tracking_code in m["Subject"]]

    # Received a month ago and never taken on: the forward deadline (3 working days from receipt)
    # has passed; the follow-up one counts from the routing, which was just now.
    [mail] = await eventually(escalations, timeout=60)
    assert (mail["To"], mail["Cc"]) == ("kepala.bppkad@kedirikota.go.id", "ppid@kedirikota.go.id")
    body = mail.get_payload(decode=True).decode()
    assert "Siti" not in body and "81234567890" not in body and "SPPT" not in body
    # Once per stage: the router holds one escalation of this complaint (only the forward deadline has passed) ...
    stages = await db.fetch("SELECT stage, count(*) AS n FROM router.escalations WHERE complaint_id = $1"
                            " GROUP BY stage", old.complaint_id)
    assert [(r["stage"], r["n"]) for r in stages] == [("forward", 1)]
    await asyncio.sleep(3)  # ... and three more sweeps (one a second) mail no second one
    assert len(escalations()) == 1


async def _json(http: httpx.AsyncClient, url: str) -> dict | None:
    answer = await http.get(url)
    return answer.json() if answer.status_code == 200 else None


async def _with(fetch, holds):
    """What `fetch` gives, once `holds` is true of it (for `eventually`)."""
    value = await fetch()
    return value if value is not None and holds(value) else None


async def test_a_reply_before_any_response_is_refused_and_one_that_slips_through_is_dead_lettered(
        stack, infra, topics, db):
    services, _ = stack
    received = ComplaintReceived.new(channel="web", channel_message_id=f"early-{time.time_ns()}",
                                     text="SURGA nama di SPPT PBB masih atas nama pemilik lama", producer="tests")
    await publish_events(infra.kafka_bootstrap, topics.received, [received])
    status_url = f"{services['web'].url}/api/v1/complaints/{received.tracking_code}"
    async with httpx.AsyncClient(timeout=15) as http:
        await eventually(lambda: _with(lambda: _json(http, status_url), lambda s: s["status"] == "diteruskan"),
                         timeout=60, what="the status page showing 'diteruskan'")
        early = await http.post(f"{status_url}/replies", json={"text": "Kapan ditanggapi? Sudah seminggu"})
    assert early.status_code == 409, early.text
    # An intake that did not check (or a response withdrawn by a hand-back meanwhile): the router refuses
    # it and parks it with the reason, and the complaint's state is untouched.
    slipped = CitizenReplied(reply_id=citizen_reply_id_for("web", f"api:{time.time_ns()}"),
                             complaint_id=received.complaint_id, tracking_code=received.tracking_code, channel="web",
                             text="Kapan ditanggapi? Sudah seminggu", received_at=datetime.now(UTC),
                             producer="tests", correlation_id=received.complaint_id)
    await publish_events(infra.kafka_bootstrap, topics.citizen_replies, [slipped])
    [parked] = await read_topic(infra.kafka_bootstrap, dead_letter_topic(topics.citizen_replies, "router"),
                                until=lambda r: len(r) >= 1)
    headers = {k: v.decode() for k, v in parked.headers}
    assert "balasan pelapor tidak dapat dicatat" in headers["x-error"]
    assert parked.key == received.complaint_id.encode()
    assert await db.fetchval("SELECT status FROM router.complaints WHERE complaint_id = $1",
                             received.complaint_id) == "assigned"
