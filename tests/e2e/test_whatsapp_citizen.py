"""A WhatsApp citizen in 2026, end to end through every service as its own process.

- A citizen with a username (number withheld, only a business-scoped user id, BSUID) files a complaint:
  the unit reads the username, never the BSUID; the acknowledgement goes to the BSUID in Meta's
  `recipient` field, with a "Cek status" button; tapping it answers the status; the citizen's BSUID
  changes (a `system` message) and the unit's response reaches the new one.
- A citizen whose 24-hour window has closed although we thought it open: the Cloud API stand-in takes
  the free text and reports it failed (131047) in a signed `statuses` webhook, as Meta does; the
  failure is recorded on the delivery and the approved template goes instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import asyncpg
import httpx
import pytest

from shared import contact_seal
from shared.contracts import contact_digest
from standins.smtp_sink import read_maildir
from tests.support.inbox import open_link
from tests.support.kafka import until

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
APP_SECRET = "e2e-whatsapp-app-secret"
INBOX_SECRET = "e2e-inbox-secret-0123456789abcdef"
USERNAME_CITIZEN = "ID.80019283746501928374"
NEW_BSUID = "ID.66601234567890123456"
CLOSED_WINDOW_CITIZEN = "6285700009999"
META = {"display_phone_number": "6281100001708", "phone_number_id": "106540352242922"}


@pytest.fixture
def stack(processes, smtp_server, own_database_url):
    smtp_port, maildir = smtp_server
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_INBOX_SECRET": INBOX_SECRET, "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false",
        "ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "1"})
    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    intake = processes.start("whatsapp", "services.intake.whatsapp", "ADUAN_WHATSAPP_PORT", {
        "ADUAN_WHATSAPP_APP_SECRET": APP_SECRET, "ADUAN_WHATSAPP_STATUS_API_URL": web.url})
    cloud = processes.start("whatsapp-standin", "standins.whatsapp_cloud", "ADUAN_WHATSAPP_STANDIN_PORT", {
        "ADUAN_WHATSAPP_STANDIN_WEBHOOK_URL": f"{intake.url}/webhook",
        "ADUAN_WHATSAPP_STANDIN_APP_SECRET": APP_SECRET,
        "ADUAN_WHATSAPP_STANDIN_WINDOW_CLOSED": CLOSED_WINDOW_CITIZEN}, ready_path="/openapi.json")
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
        "ADUAN_NOTIFIER_SMTP_PORT": str(smtp_port), "ADUAN_NOTIFIER_INBOX_SECRET": INBOX_SECRET,
        "ADUAN_NOTIFIER_INBOX_BASE_URL": router.url, "ADUAN_NOTIFIER_WHATSAPP_API_URL": f"{cloud.url}/v21.0",
        "ADUAN_DB_URL": own_database_url})  # its job queue: nothing of another test's goes out here
    return {"router": router, "intake": intake, "cloud": cloud}, maildir


def webhook(message: dict, contacts: list[dict] | None = None) -> dict:
    value = {"messaging_product": "whatsapp", "metadata": META, "messages": [message]}
    if contacts is not None:
        value["contacts"] = contacts
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]}


async def post(http: httpx.AsyncClient, intake_url: str, payload: dict) -> dict:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    answer = await http.post(f"{intake_url}/webhook", content=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature})
    assert answer.status_code == 200, answer.text
    return answer.json()


def sent_by_cloud(cloud_url: str) -> list[dict]:
    return httpx.get(f"{cloud_url}/_standin/messages").json()["items"]


async def test_a_username_citizen_is_answered_by_bsuid_from_complaint_to_response(stack, db):
    services, maildir = stack
    intake, cloud = services["intake"].url, services["cloud"].url
    card = {"profile": {"name": "Rina", "username": "@rina.kdr"}, "user_id": USERNAME_CITIZEN}
    async with httpx.AsyncClient(timeout=15) as http:
        filed = await post(http, intake, webhook(
            {"from_user_id": USERNAME_CITIZEN, "id": f"wamid.E2E{time.time_ns()}", "timestamp": str(int(time.time())),
             "type": "text", "text": {"body": "Nama di SPPT PBB masih atas nama pemilik lama"}}, [card]))
        [code] = filed["accepted"]

        # The unit reads the username (no number to show), never the BSUID.
        [mail] = await until(lambda: [m for m in read_maildir(maildir) if code in m["Subject"]], "the unit's mail")
        body = mail.get_payload(decode=True).decode()
        assert "@rina.kdr" in body and USERNAME_CITIZEN not in body

        # The acknowledgement: to the BSUID in `recipient`, free text with the Cek status button.
        def to_citizen(bsuid: str) -> list[dict]:
            return [m for m in sent_by_cloud(cloud) if m.get("recipient") == bsuid]

        [ack] = await until(lambda: to_citizen(USERNAME_CITIZEN), "the acknowledgement by BSUID")
        assert "to" not in ack and not ack["dropped"] and ack["type"] == "interactive"
        [button] = ack["body"]["interactive"]["action"]["buttons"]
        assert button["reply"] == {"id": f"cek:{code}", "title": "Cek status"}

        # The citizen taps it: the status comes back to the BSUID.
        await post(http, intake, webhook(
            {"from_user_id": USERNAME_CITIZEN, "id": f"wamid.TAP{time.time_ns()}", "timestamp": str(int(time.time())),
             "type": "interactive", "context": {"id": ack["id"]},
             "interactive": {"type": "button_reply", "button_reply": button["reply"]}}, [card]))
        answer = await until(lambda: [m for m in to_citizen(USERNAME_CITIZEN) if m["type"] == "text"], "the status")
        assert code in answer[0]["body"]["text"]["body"] and "tidak ditemukan" not in answer[0]["body"]["text"]["body"]

        # Meta says the citizen's BSUID changed; then the unit answers: it reaches the new BSUID.
        await post(http, intake, webhook(
            {"from_user_id": USERNAME_CITIZEN, "id": f"wamid.SYS{time.time_ns()}", "timestamp": str(int(time.time())),
             "type": "system", "system": {"body": "User changed their business-scoped user ID",
                                          "user_id": NEW_BSUID, "type": "user_changed_user_id"}}))
        await until(lambda: _reporter_bsuid_is(db, code, NEW_BSUID), "the router to take the new BSUID")
        link = re.search(r"(http://\S+/unit/tautan\?t=\S+)", body).group(1)
        async with httpx.AsyncClient(timeout=15, follow_redirects=True) as browser:
            page = await open_link(browser, link)
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
            for action, form in [("terima", {}), ("tanggapi", {"pesan": "Nama di SPPT sudah kami betulkan"})]:
                done = await browser.post(f"{services['router'].url}/unit/aduan/{code}/{action}",
                                          data={"csrf": csrf, **form})
                assert done.status_code == 200, (action, done.text)
        [status] = await until(lambda: to_citizen(NEW_BSUID), "the response at the new BSUID")
        assert status["type"] == "template" and status["body"]["template"]["name"] == "aduan_status"
        parameters = [p["text"] for p in status["body"]["template"]["components"][0]["parameters"]]
        assert parameters[:3] == [code, "ditanggapi", "Nama di SPPT sudah kami betulkan"]
        assert not [m for m in sent_by_cloud(cloud) if m["dropped"]]  # no BSUID ever went in `to`


async def _reporter_bsuid_is(db, code: str, bsuid: str) -> bool:
    """The router matches by the new address's digest and answers at it as the intake sealed it."""
    row = await db.fetchrow(
        "SELECT c.contact_digests, a.event ->> 'sealed_contact' AS sealed"
        " FROM router.complaints c JOIN router.assignments a USING (complaint_id) WHERE c.tracking_code = $1", code)
    return (row is not None and contact_digest(bsuid) in row["contact_digests"]
            and json.loads(contact_seal.open_sealed(row["sealed"])).get("channel_user_id") == bsuid)


async def test_free_text_meta_reports_failed_for_the_window_is_followed_by_the_template(stack, own_database_url):
    services, _ = stack
    intake, cloud = services["intake"].url, services["cloud"].url
    async with httpx.AsyncClient(timeout=15) as http:
        filed = await post(http, intake, webhook(
            {"from": CLOSED_WINDOW_CITIZEN, "from_user_id": "ID.10000000000000000001",
             "id": f"wamid.WIN{time.time_ns()}", "timestamp": str(int(time.time())), "type": "text",
             "text": {"body": "Pengurusan akta kelahiran dipersulit petugas"}},
            [{"profile": {"name": "Budi"}, "wa_id": CLOSED_WINDOW_CITIZEN, "user_id": "ID.10000000000000000001"}]))
        [code] = filed["accepted"]

    def to_citizen() -> list[dict]:
        return [m for m in sent_by_cloud(cloud) if m.get("to") == CLOSED_WINDOW_CITIZEN]

    sent = await until(lambda: [m for m in to_citizen() if m["type"] == "template"], "the template instead")
    first, *_ = to_citizen()
    assert first["type"] == "interactive" and first["failed"]  # what the notifier tried first, inside its window
    parameters = [p["text"] for p in sent[0]["body"]["template"]["components"][0]["parameters"]]
    assert sent[0]["body"]["template"]["name"] == "aduan_diterima" and parameters[0] == code
    conn = await asyncpg.connect(own_database_url)
    try:
        receipt = await conn.fetchrow("SELECT state, error_code FROM notifier.delivery_receipts WHERE message_id = $1",
                                      first["id"])
        ack = await conn.fetchrow("SELECT last_error, result ->> 'message_id' AS message_id FROM notifier.jobs "
                                  "WHERE kind = 'citizen_ack'")
    finally:
        await conn.close()
    assert (receipt["state"], receipt["error_code"]) == ("failed", 131047)
    assert ack["message_id"] == first["id"] and "131047" in ack["last_error"]
    assert len(sent) == 1  # the template once, whatever Meta resends
