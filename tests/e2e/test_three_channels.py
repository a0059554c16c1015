"""The whole system as separate processes: one complaint through each channel, followed to
the unit's mailbox, the LAPOR! stand-in and the citizen's status page."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from standins.smtp_sink import read_maildir
from tests.support.kafka import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
APP_SECRET = "e2e-app-secret"
# HTML and SQL in a complaint are stored as typed, and never executed or rendered.
WEB_TEXT = "Petugas loket perizinan menyuruh lewat calo biar cepat <b>x</b>'); DROP TABLE complaints; --"
VERIFY_TOKEN = "e2e-verify-token"


@pytest.fixture
def stack(processes, smtp_server, lapor_standin, own_database_url):
    smtp_port, maildir = smtp_server
    started = {
        "router": processes.start("router", "services.router", "ADUAN_ROUTER_PORT",
                                  {"ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"e2e": "e2e-operator"})}),
        "notifier": processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT",
                                    {"ADUAN_NOTIFIER_SMTP_PORT": str(smtp_port)}),
        "lapor_sync": processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT",
                                      {"ADUAN_LAPOR_SYNC_LAPOR_BASE_URL": lapor_standin.url}),
        "web": processes.start("web", "services.intake.web", "ADUAN_WEB_PORT"),
        "sms": processes.start("sms", "services.intake.sms", "ADUAN_SMS_PORT",
                               {"ADUAN_SMS_GATEWAY_SECRET": "e2e-gateway-secret", "ADUAN_DB_URL": own_database_url}),
        "whatsapp": processes.start("whatsapp", "services.intake.whatsapp", "ADUAN_WHATSAPP_PORT",
                                    {"ADUAN_WHATSAPP_APP_SECRET": APP_SECRET,
                                     "ADUAN_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN}),
    }
    return started, maildir


def whatsapp_payload(wamid: str, sender: str, text: str) -> bytes:
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100001708", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Rina"}, "wa_id": sender}],
            "messages": [{"from": sender, "id": wamid, "timestamp": str(int(time.time())),
                          "type": "text", "text": {"body": text}}],
        }}]}],
    }).encode()


async def test_a_complaint_from_each_channel_reaches_its_unit_lapor_and_the_status_page(stack, lapor_standin, db):
    services, maildir = stack
    async with httpx.AsyncClient(timeout=15) as http:
        web = await http.post(services["web"].url + "/api/v1/complaints", json={
            "text": WEB_TEXT,
            "name": "Budi Santoso", "phone": "0812-3456-7890", "anonymity": "rahasia"})
        assert web.status_code == 202, web.text

        sms = await http.post(services["sms"].url + "/api/v1/sms/inbound",
                              headers={"X-Gateway-Secret": "e2e-gateway-secret"},
                              json={"message_id": f"kannel-{time.time_ns()}", "sender": "081298765432",
                                    "text": "surga: nama di SPPT PBB masih atas nama pemilik lama"})
        assert sms.status_code == 202, sms.text

        verify = await http.get(services["whatsapp"].url + "/webhook", params={
            "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
        assert (verify.status_code, verify.text) == (200, "1158201444")
        body = whatsapp_payload(f"wamid.HBgN{time.time_ns()}", "6285755501234",
                                "Mohon dokumentasi foto acara wali kota bersama karang taruna kemarin")
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        whatsapp = await http.post(services["whatsapp"].url + "/webhook", content=body,
                                   headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})
        assert whatsapp.status_code == 200, whatsapp.text

        expected = {
            web.json()["tracking_code"]: "inspektorat",
            sms.json()["tracking_code"]: "bppkad",
            whatsapp.json()["accepted"][0]: "prokopim",
        }

        async def statuses() -> dict | None:
            found = {}
            for code in expected:
                answer = await http.get(f"{services['web'].url}/api/v1/complaints/{code}")
                if answer.status_code != 200 or answer.json()["status"] != "diteruskan":
                    return None
                found[code] = answer.json()
            return found

        found = await eventually(statuses, timeout=90)
        assert found, "not every complaint reached the status 'diteruskan'"
        assert {code: status["unit_code"] for code, status in found.items()} == expected

        def mails_by_code() -> dict:
            by_code = {}
            for mail in read_maildir(maildir):
                for code in expected:
                    if code in mail["Subject"]:
                        by_code.setdefault(code, []).append(mail)
            return by_code if len(by_code) == len(expected) else {}

        mails = await eventually(mails_by_code, timeout=60)
        assert mails, "not every unit got its e-mail"
        for code, unit in expected.items():
            assert [m["To"] for m in mails[code]] == [f"{unit}@kedirikota.go.id"]
        web_mail = mails[web.json()["tracking_code"]][0].get_payload(decode=True).decode()
        assert "Budi" not in web_mail and "81234567890" not in web_mail  # rahasia

        complaint_ids = {found[code]["complaint_id"] for code in expected}
        stored = await db.fetchval("SELECT text FROM router.complaints WHERE complaint_id = $1",
                                   web.json()["complaint_id"])
        assert stored == WEB_TEXT

        async def lapor_references() -> set:
            answer = await http.get(lapor_standin.url + "/api/v1/reports",
                                    headers={"Authorization": "Bearer local-standin-token"})
            references = {item["reference"] for item in answer.json()["items"]}
            return references if complaint_ids <= references else set()

        assert await eventually(lapor_references, timeout=60) == complaint_ids

    for name, service in services.items():
        assert "Budi Santoso" not in service.log(), f"{name} logged a reporter's name"
        assert "81234567890" not in service.log(), f"{name} logged a phone number"


async def test_a_reassigned_complaint_reaches_the_new_unit_lapor_and_the_status_page(stack, lapor_standin):
    services, maildir = stack
    async with httpx.AsyncClient(timeout=15) as http:
        sent = await http.post(services["web"].url + "/api/v1/complaints", json={
            "text": "Mohon keringanan pajak BPHTB untuk rumah warisan orang tua kami"})
        code = sent.json()["tracking_code"]
        status_url = f"{services['web'].url}/api/v1/complaints/{code}"

        async def unit_on_status_page(unit: str) -> bool:
            answer = await http.get(status_url)
            return answer.status_code == 200 and answer.json()["unit_code"] == unit

        assert await eventually(lambda: unit_on_status_page("bppkad"), timeout=60)
        moved = await http.post(f"{services['router'].url}/api/v1/complaints/{code}/reassign",
                                headers={"Authorization": "Bearer e2e-operator"},
                                json={"unit": "hukum", "reason": "Sengketa waris perlu ditangani Bagian Hukum"})
        assert moved.status_code == 202, moved.text
        assert await eventually(lambda: unit_on_status_page("hukum"), timeout=60)

        def mails() -> list:
            found = [m["To"] for m in read_maildir(maildir) if code in m["Subject"]]
            return found if len(found) >= 2 else []

        assert sorted(await eventually(mails, timeout=60)) == ["bppkad@kedirikota.go.id", "hukum@kedirikota.go.id"]
        hukum_mail = next(m for m in read_maildir(maildir) if code in m["Subject"] and m["To"].startswith("hukum"))
        assert "DIALIHKAN" in hukum_mail.get_payload(decode=True).decode()

        async def follow_ups() -> list:
            items = (await http.get(lapor_standin.url + "/api/v1/reports",
                                    headers={"Authorization": "Bearer local-standin-token"})).json()["items"]
            report = next((i for i in items if i["reference"] == sent.json()["complaint_id"]), None)
            return report["followups"] if report else []

        [follow_up] = await eventually(follow_ups, timeout=60)
        assert "Bagian Hukum" in follow_up["text"] and "Sengketa waris" in follow_up["text"]
