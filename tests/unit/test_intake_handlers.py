"""HTTP handlers of the SMS and WhatsApp intakes, with FastStream's in-memory broker.

Only the handlers' own behaviour is tested here (validation, signatures, what is
published); acknowledgement by the real broker is covered by the integration and e2e tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from contextlib import asynccontextmanager

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import TestKafkaBroker

from services.intake.sms.app import SmsSettings
from services.intake.sms.app import build_app as build_sms
from services.intake.whatsapp.app import WhatsAppSettings
from services.intake.whatsapp.app import build_app as build_whatsapp
from shared.contracts import ComplaintReceived, complaint_id_for

SECRET = "unit-app-secret"


@asynccontextmanager
async def running(app):
    """The app's broker in memory, a client for its HTTP side, and what it published."""
    kit = app.state.kit
    published: list[ComplaintReceived] = []

    @kit.broker.subscriber(kit.topics.received)
    async def capture(event: ComplaintReceived) -> None:
        published.append(event)

    async with TestKafkaBroker(kit.broker):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://intake") as client:
            yield client, published, kit


@pytest.fixture
async def sms():
    async with running(build_sms(SmsSettings(gateway_secret="s3cret"))) as started:
        yield started


@pytest.fixture
async def whatsapp():
    async with running(build_whatsapp(WhatsAppSettings(app_secret=SECRET, verify_token="verify-me"))) as started:
        yield started


def inbound(text: str, message_id: str = "gw-1", sender: str = "081234567890") -> dict:
    return {"message_id": message_id, "sender": sender, "text": text}


async def test_sms_complaint_is_published_with_e164_sender(sms):
    client, published, _ = sms
    answer = await client.post("/api/v1/sms/inbound", json=inbound("SURGA lampu mati"),
                               headers={"X-Gateway-Secret": "s3cret"})
    assert answer.status_code == 202
    [event] = published
    assert event.text == "lampu mati" and event.reporter.phone == "+6281234567890"
    assert answer.json()["complaint_id"] == complaint_id_for("sms", "gw-1") == event.complaint_id


async def test_sms_without_keyword_gets_the_format_help(sms):
    client, published, _ = sms
    answer = await client.post("/api/v1/sms/inbound", json=inbound("lampu mati"),
                               headers={"X-Gateway-Secret": "s3cret"})
    assert answer.status_code == 422
    assert answer.json()["detail"]["reason"] == "not_a_complaint"
    assert "SURGA <isi aduan>" in answer.json()["detail"]["reply"]
    assert published == []


async def test_sms_with_wrong_gateway_secret_is_refused(sms):
    client, published, _ = sms
    answer = await client.post("/api/v1/sms/inbound", json=inbound("SURGA x"), headers={"X-Gateway-Secret": "no"})
    assert answer.status_code == 401 and published == []


async def test_broker_outage_answers_503_so_the_gateway_retries(sms, monkeypatch):
    client, published, kit = sms

    async def broker_down(*_args, **_kwargs):
        raise KafkaConnectionError("broker down")

    monkeypatch.setattr(kit.broker, "publish", broker_down)
    answer = await client.post("/api/v1/sms/inbound", json=inbound("SURGA lampu mati"),
                               headers={"X-Gateway-Secret": "s3cret"})
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.json()["reason"] == "broker_unavailable"


def signed(payload: dict, secret: str = SECRET) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}


def wa_payload(*messages: dict, statuses: list | None = None) -> dict:
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
                                       "contacts": [{"wa_id": "6285755501234", "profile": {"name": "Rina"}}],
                                       "messages": list(messages), "statuses": statuses or []}}]}]}


def text_message(wamid: str, body: str) -> dict:
    return {"from": "6285755501234", "id": wamid, "timestamp": "1764230400", "type": "text", "text": {"body": body}}


async def test_whatsapp_verification_echoes_the_challenge_only_for_the_right_token(whatsapp):
    client, _, _ = whatsapp
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"}
    ok = await client.get("/webhook", params=params)
    assert (ok.status_code, ok.text) == (200, "42")
    bad = await client.get("/webhook", params={**params, "hub.verify_token": "guess"})
    assert bad.status_code == 403


async def test_whatsapp_post_needs_a_valid_signature(whatsapp):
    client, published, _ = whatsapp
    body, headers = signed(wa_payload(text_message("wamid.A", "jalan rusak")), secret="wrong")
    assert (await client.post("/webhook", content=body, headers=headers)).status_code == 401
    headers.pop("X-Hub-Signature-256")
    assert (await client.post("/webhook", content=body, headers=headers)).status_code == 401
    assert published == []


async def test_whatsapp_messages_become_complaints_and_retries_keep_their_id(whatsapp):
    client, published, _ = whatsapp
    payload = wa_payload(text_message("wamid.A", "jalan rusak"), text_message("wamid.B", "lampu mati"),
                         {"from": "6285755501234", "id": "wamid.C", "timestamp": "1764230400", "type": "reaction"})
    body, headers = signed(payload)
    for _ in range(2):  # Meta resends when it did not see our 200
        assert (await client.post("/webhook", content=body, headers=headers)).status_code == 200
    assert [e.text for e in published] == ["jalan rusak", "lampu mati"] * 2
    assert len({e.complaint_id for e in published}) == 2  # the retry maps to the same complaints
    assert published[0].reporter.name == "Rina" and published[0].reporter.phone == "+6285755501234"


async def test_whatsapp_status_callbacks_are_accepted_and_ignored(whatsapp):
    client, published, _ = whatsapp
    body, headers = signed(wa_payload(statuses=[{"id": "wamid.A", "status": "delivered"}]))
    answer = await client.post("/webhook", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json() == {"accepted": []} and published == []
