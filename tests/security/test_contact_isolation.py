"""Security review, issue 14, item 7 (first part): a reporter's contact reaches the notifier alone, and the
notifier takes units' addresses from the registry, not from events.

Before: an anonymous reporter's number travelled in plain on complaints.received/assigned/status, lapor_sync
kept it in its jobs and dead letters, and the internet-facing web intake read it; the notifier mailed whatever
address an event named. Now the intakes seal the contact for the notifier (shared/contact_seal.py).
"""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest
from pydantic import ValidationError

from services.notifier.app import build_app as notifier_app
from services.notifier.settings import NotifierSettings
from shared import contact_seal
from shared.channel_kit import IntakeKit
from shared.contracts import Anonymity, Reporter
from shared.settings import ServiceSettings
from shared.topics import dead_letter_topic
from standins.smtp_sink import read_maildir
from tests.conftest import fast_retries
from tests.support import events
from tests.support.kafka import publish_events, read_all, read_topic, until

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
NUMBER, DIGITS = "081211112222", "81211112222"
GATEWAY_SECRET = "isolation-gateway-secret"


@pytest.fixture
def stack(processes, smtp_server, sms_standin, lapor_standin, own_database_url):
    own = {"ADUAN_DB_URL": own_database_url}
    processes.start("router", "services.router", "ADUAN_ROUTER_PORT", own)
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
        **own, **fast_retries("ADUAN_NOTIFIER_"), "ADUAN_NOTIFIER_SMTP_PORT": str(smtp_server[0]),
        "ADUAN_NOTIFIER_SMS_GATEWAYS": '["generic"]',
        "ADUAN_NOTIFIER_GENERIC_SMS_URL": f"{sms_standin.url}/api/v1/messages"})
    processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT",
                    {**own, "ADUAN_LAPOR_SYNC_LAPOR_BASE_URL": lapor_standin.url})
    processes.start("web", "services.intake.web", "ADUAN_WEB_PORT", own)
    return processes.start("sms", "services.intake.sms", "ADUAN_SMS_PORT",
                           {**own, "ADUAN_SMS_GATEWAY_SECRET": GATEWAY_SECRET})


async def test_an_anonymous_reporters_number_reaches_only_the_notifier(stack, sms_standin, smtp_server, infra,
                                                                      topics, own_database_url):
    async with httpx.AsyncClient(timeout=15) as http:
        filed = await http.post(f"{stack.url}/api/v1/sms/inbound", headers={"X-Gateway-Secret": GATEWAY_SECRET},
                                json={"message_id": "isolation-1", "sender": NUMBER,
                                      "text": "SURGA RAHASIA petugas loket minta imbalan uang"})
        assert filed.status_code == 202, filed.text
        code = filed.json()["tracking_code"]

        # The notifier still answers the citizen at their number: it alone opens the sealed contact.
        [ack] = await until(lambda: httpx.get(f"{sms_standin.url}/_standin/messages").json()["items"],
                            "the acknowledgement SMS")
        assert ack["to"] == f"+62{DIGITS}" and code in ack["text"]
        [mail] = await until(lambda: [m for m in read_maildir(smtp_server[1]) if code in m["Subject"]],
                             "the unit's e-mail")
        conn = await asyncpg.connect(own_database_url)
        try:
            await until(lambda: conn.fetchval("SELECT count(*) > 0 AND bool_and(status = 'done')"
                                              " FROM lapor_sync.jobs"), "the LAPOR! report")
            await until(lambda: conn.fetchval("SELECT count(*) FROM web.complaint_status WHERE tracking_code = $1",
                                              code), "the status page's row")
            # Every table of the services between the intake and the notifier, as text.
            tables = await conn.fetch("SELECT table_schema, table_name FROM information_schema.tables"
                                      " WHERE table_schema IN ('router', 'lapor_sync', 'web')")
            assert len(tables) > 5
            holding = [f"{t['table_schema']}.{t['table_name']}" for t in tables if await conn.fetchval(
                f'SELECT count(*) FROM "{t["table_schema"]}"."{t["table_name"]}" AS r WHERE r::text LIKE $1',
                f"%{DIGITS}%")]
        finally:
            await conn.close()
    assert holding == []
    assert DIGITS not in mail.as_string()
    for topic in (topics.received, topics.assigned, topics.status):
        records = await read_all(infra.kafka_bootstrap, topic)
        assert records and not [r for r in records if DIGITS.encode() in r.value], topic


def test_a_sealed_contact_opens_only_with_the_notifiers_key_and_not_after_tampering():
    sealed = events.received(anonymity=Anonymity.RAHASIA).sealed_contact
    assert json.loads(contact_seal.open_sealed(sealed))["phone"] == "+6281234567890"
    version, key_id, body = sealed.split(".")
    tampered = f"{version}.{key_id}.{body[:-8]}{'A' * 8}"
    with pytest.raises(contact_seal.ContactUnreadable):
        contact_seal.open_sealed(tampered)
    other_public, _ = contact_seal.new_key_pair()  # sealed for a key this notifier does not hold
    contact_seal.public_key.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(contact_seal.PUBLIC_KEY_ENV, other_public)
            foreign = contact_seal.seal(Reporter(phone="+6281234567890").model_dump_json())
    finally:
        contact_seal.public_key.cache_clear()
    with pytest.raises(contact_seal.ContactUnreadable, match="not among the notifier's keys"):
        contact_seal.open_sealed(foreign)


@pytest.mark.parametrize("missing", [contact_seal.PUBLIC_KEY_ENV, contact_seal.PRIVATE_KEYS_ENV])
def test_services_without_their_contact_key_do_not_start(missing, monkeypatch):
    monkeypatch.delenv(missing)
    contact_seal.public_key.cache_clear()
    contact_seal.private_keys.cache_clear()
    try:
        with pytest.raises(contact_seal.ContactKeyMissing, match=missing):
            if missing == contact_seal.PUBLIC_KEY_ENV:
                IntakeKit(ServiceSettings(port=0), producer="intake-test", channel="sms")
            else:
                notifier_app()
    finally:
        contact_seal.public_key.cache_clear()
        contact_seal.private_keys.cache_clear()


@pytest.mark.parametrize(("gateways", "missing"), [
    ('["kannel"]', "ADUAN_NOTIFIER_KANNEL_PASSWORD"), ('["generic"]', "ADUAN_NOTIFIER_GENERIC_SMS_SECRET"),
    ('["kannel"]', "ADUAN_NOTIFIER_WHATSAPP_TOKEN")])
def test_the_notifier_does_not_start_without_a_gateways_secret(gateways, missing, monkeypatch):
    """Item 8: the secrets had known defaults in code, and the generic one was optional in the manifests."""
    monkeypatch.setenv("ADUAN_NOTIFIER_SMS_GATEWAYS", gateways)
    monkeypatch.delenv(missing)
    with pytest.raises(ValidationError, match=missing):
        NotifierSettings()


async def test_the_notifier_mails_the_registrys_address_whatever_the_event_says(
        processes, smtp_server, infra, topics):
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
        **fast_retries("ADUAN_NOTIFIER_"), "ADUAN_NOTIFIER_SMTP_PORT": str(smtp_server[0])})
    real = events.assigned("Pembayaran PBB lewat bank gagal")
    forged = real.model_copy(update={"unit": real.unit.model_copy(update={
        "email": "pencuri@example.com", "webhook_url": "http://127.0.0.1:9/steal", "head_email": "x@example.com"})})
    unknown = events.assigned("Jalan berlubang di depan pasar", message_id="unknown-unit")
    unknown = unknown.model_copy(update={"unit": unknown.unit.model_copy(update={"code": "bukan-unit",
                                                                                 "email": "pencuri@example.com"})})
    await publish_events(infra.kafka_bootstrap, topics.assigned, [forged, unknown])
    [mail] = await until(lambda: [m for m in read_maildir(smtp_server[1])
                                  if m["X-Aduan-Assignment-Id"] == real.assignment_id], "the unit's e-mail")
    assert mail["To"] == "bppkad@kedirikota.go.id"
    # Its unit's e-mail and its citizen's acknowledgement (which names the unit) wait for a person.
    dead = await read_topic(infra.kafka_bootstrap, dead_letter_topic(topics.assigned, "notifier"),
                            until=lambda r: len(r) >= 2)
    headers = [{k: v.decode() for k, v in record.headers} for record in dead]
    assert sorted(h["x-job-kind"] for h in headers) == ["citizen_ack", "unit_email"]
    assert all("'bukan-unit' is not in the units registry" in h["x-error"] for h in headers)
    assert not [m for m in read_maildir(smtp_server[1]) if "pencuri" in m.as_string()]
