"""Security review, issue 14, items 1 and 2: the phone channels.

1. Anyone who could reach the SMS intake's Kannel endpoint could file complaints (and `SURGA BALAS`
   replies) under any number and make the city send paid SMS: three GETs with sender +447700900123
   made three SMS to +44. The endpoint now takes only calls carrying the key Kannel's get-url holds,
   and refuses every call while no key is set. (What leaves as SMS is limited too: test_sms_costs.py.)
2. SMS and WhatsApp reporters could never be anonymous: `SURGA RAHASIA petugas loket minta imbalan
   uang` put the number into the unit's e-mail and the LAPOR! report.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.intake.sms import contract as sms_contract
from services.intake.sms.app import SmsSettings
from services.intake.sms.app import build_app as build_sms
from services.intake.whatsapp.app import WhatsAppSettings
from services.intake.whatsapp.app import build_app as build_whatsapp
from services.lapor_sync.lapor_contract import report_from_assignment
from services.notifier.messages import citizen_ack_text, unit_assignment_email
from shared.contracts import Anonymity, ComplaintReceived
from tests.support import events
from tests.support.in_memory import running

VICTIM = "+6281211112222"
KEY = "security-kannel-key"


def sms_app(kannel_secret: str = KEY):
    return build_sms(SmsSettings(gateway_secret=sms_contract.SECRET, kannel_secret=kannel_secret, spool=False))


@pytest.mark.parametrize(("secret", "key", "reason"), [
    (KEY, None, "missing_key"),
    (KEY, "guess", "bad_key"),
    (KEY, KEY.upper(), "bad_key"),
    ("", "", "kannel_secret_not_set"),  # no secret configured: closed, not open
    ("", "anything", "kannel_secret_not_set"),
])
async def test_kannel_calls_without_the_gateway_key_are_refused_and_cost_nothing(secret, key, reason):
    query = {"id": "pump-1", "sender": "+447700900123", "text": "halo"} | ({"key": key} if key is not None else {})
    async with running(sms_app(secret)) as (client, complaints, replies):
        for method in ("GET", "POST"):
            answer = await client.request(method, "/kannel/inbound", params=query,
                                          content=b"SURGA halo" if method == "POST" else None)
            assert (answer.status_code, answer.json()["reason"]) == (401, reason)
    assert complaints == [] and replies == []  # no complaint under anyone's number, no SMS asked for


async def test_kannel_calls_with_the_key_are_taken():
    async with running(sms_app()) as (client, complaints, _):
        answer = await client.get("/kannel/inbound", params={"key": KEY, "id": "k-1", "sender": VICTIM,
                                                             "text": "SURGA lampu jalan mati"})
    assert answer.status_code == 202 and [c.text for c in complaints] == ["lampu jalan mati"]


def _unit_sees(received: ComplaintReceived) -> tuple[str, object]:
    assigned = events.assignment_for(received)
    mail = unit_assignment_email(assigned, mail_from="aduan@kedirikota.go.id", message_id="<x@y>", link="http://s")
    return mail.as_string() + mail.get_content(), report_from_assignment(assigned).reporter


@pytest.mark.parametrize(("typed", "anonymity"), [
    ("SURGA RAHASIA petugas loket minta imbalan uang", Anonymity.RAHASIA),
    ("surga: rahasia, petugas loket minta imbalan uang", Anonymity.RAHASIA),
    ("Surga.Anonim petugas loket minta imbalan uang", Anonymity.ANONIM),
    ("SURGA anonymous petugas loket minta imbalan uang", Anonymity.ANONIM),
])
async def test_sms_reporters_can_hide_their_number_from_the_unit_and_lapor(typed, anonymity):
    async with running(sms_app()) as (client, complaints, _):
        answer = await client.get("/kannel/inbound", params={"key": KEY, "id": f"k-{typed}", "sender": VICTIM,
                                                             "text": typed})
    assert answer.status_code == 202
    [received] = complaints
    assert received.anonymity is anonymity and received.text == "petugas loket minta imbalan uang"
    unit_mail, lapor_reporter = _unit_sees(received)
    assert "81211112222" not in unit_mail and lapor_reporter is None
    assert "Identitas Anda dirahasiakan" in citizen_ack_text(events.assignment_for(received), "http://s")


async def test_a_complaint_that_merely_starts_with_a_word_like_it_is_not_anonymous():
    async with running(sms_app()) as (client, complaints, _):
        await client.get("/kannel/inbound", params={"key": KEY, "id": "k-r", "sender": VICTIM,
                                                    "text": "SURGA rahasiakan data warga bocor di kelurahan"})
    [received] = complaints
    assert received.anonymity is Anonymity.NONE and received.text == "rahasiakan data warga bocor di kelurahan"


async def test_sms_format_help_tells_how_to_stay_anonymous():
    async with running(sms_app()) as (client, _, replies):
        await client.get("/kannel/inbound", params={"key": KEY, "id": "k-h", "sender": VICTIM, "text": "SURGA RAHASIA"})
    [reply] = replies
    assert reply.reason == "format_help" and "SURGA RAHASIA" in reply.text and len(reply.text) <= 160


@pytest.mark.parametrize("body", ["RAHASIA petugas loket minta imbalan uang",
                                  "SURGA RAHASIA petugas loket minta imbalan uang"])
async def test_whatsapp_reporters_can_hide_their_identity_too(body):
    secret = "security-app-secret"
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "contacts": [{"profile": {"name": "Rina", "username": "@rina.kdr"}, "wa_id": VICTIM[1:],
                      "user_id": "ID.13491208655302741918"}],
        "messages": [{"from": VICTIM[1:], "from_user_id": "ID.13491208655302741918", "id": "wamid.RHS",
                      "timestamp": "1764230400", "type": "text", "text": {"body": body}}]}}]}]}
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    async with running(build_whatsapp(WhatsAppSettings(app_secret=secret))) as (client, complaints, _):
        answer = await client.post("/webhook", content=raw, headers={"X-Hub-Signature-256": signature,
                                                                     "Content-Type": "application/json"})
    assert answer.status_code == 200
    [received] = complaints
    assert received.anonymity is Anonymity.RAHASIA and received.text == "petugas loket minta imbalan uang"
    unit_mail, lapor_reporter = _unit_sees(received)
    for identity in ("81211112222", "Rina", "rina.kdr", "13491208655302741918"):
        assert identity not in unit_mail
    assert lapor_reporter is None


# Item 8: secrets fail closed. A gateway or Meta webhook without its secret configured refused nothing (the
# generic SMS webhook skipped its check; WhatsApp's app secret and verify token had known defaults in code).

async def test_the_generic_sms_webhook_without_a_secret_refuses_everything():
    body = json.dumps({"message_id": "g-1", "sender": VICTIM, "text": "SURGA lampu mati"}).encode()
    async with running(build_sms(SmsSettings(kannel_secret=KEY, spool=False))) as (client, complaints, _):
        for headers in ({}, {"X-Gateway-Secret": ""}, sms_contract.signed(body, secret="anything")):
            answer = await client.post("/api/v1/sms/inbound", content=body,
                                       headers={"Content-Type": "application/json", **headers})
            assert (answer.status_code, answer.json()["reason"]) == (401, "gateway_secret_not_set")
    assert complaints == []


async def test_whatsapp_without_its_secrets_refuses_everything():
    app = build_whatsapp(WhatsAppSettings())  # nothing configured
    raw = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    async with running(app) as (client, _, _):
        for guess in ("", "local-app-secret"):  # the old default in code
            signature = "sha256=" + hmac.new(guess.encode(), raw, hashlib.sha256).hexdigest()
            answer = await client.post("/webhook", content=raw, headers={"X-Hub-Signature-256": signature})
            assert answer.status_code == 401
        for token in ("", "local-verify-token"):
            verify = await client.get("/webhook", params={"hub.mode": "subscribe", "hub.verify_token": token,
                                                          "hub.challenge": "1"})
            assert verify.status_code == 403
