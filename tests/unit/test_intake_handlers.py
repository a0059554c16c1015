"""Channel-specific handler behaviour, with FastStream's in-memory broker.

What every channel must do is in tests/contract (real Kafka); here: each gateway's own
format, the SMS format-help reply, WhatsApp media and locations.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from services.intake.sms import contract as sms_contract
from services.intake.sms.app import SmsSettings
from services.intake.sms.app import build_app as build_sms
from services.intake.whatsapp import contract as wa
from services.intake.whatsapp.app import WhatsAppSettings
from services.intake.whatsapp.app import build_app as build_whatsapp
from shared.contracts import complaint_id_for
from tests.support.in_memory import running

KANNEL_KEY = sms_contract.KANNEL_SECRET  # Kannel's get-url carries it (deploy/gateways/kannel)


@pytest.fixture
async def sms():
    settings = SmsSettings(gateway_secret=sms_contract.SECRET, kannel_secret=sms_contract.KANNEL_SECRET, spool=False)
    async with running(build_sms(settings)) as started:
        yield started


@pytest.fixture
async def whatsapp():
    async with running(build_whatsapp(WhatsAppSettings(app_secret=wa.SECRET, verify_token="verify-me"))) as started:
        yield started


async def test_kannel_get_url_becomes_a_complaint(sms):
    client, published, _ = sms
    answer = await client.get("/kannel/inbound", params={
        "key": KANNEL_KEY, "id": "b7f1c2d4-kannel", "sender": "+6281234567890", "receiver": "1708",
        "time": "2026-11-27 08:15:00",
        "text": "Surga. lampu jalan di Jl. Dhoho mati"})
    assert answer.status_code == 202, answer.text
    [event] = published
    assert event.text == "lampu jalan di Jl. Dhoho mati" and event.reporter.phone == "+6281234567890"
    assert event.complaint_id == complaint_id_for("sms", "kannel:b7f1c2d4-kannel")
    # Kannel's %t is UTC even on a host in WIB (seen with Kannel 1.4.5): 15:15 WIB.
    assert event.received_at.isoformat() == "2026-11-27T08:15:00+00:00"


async def test_kannel_post_url_reads_text_from_the_body_and_numbers_from_headers(sms):
    client, published, _ = sms
    answer = await client.post(f"/kannel/inbound?key={KANNEL_KEY}&id=k-2", content=b"SURGA jalan berlubang",
                               headers={"Content-Type": "text/plain", "X-Kannel-From": "081298765432",
                                        "X-Kannel-To": "1708"})
    assert answer.status_code == 202
    assert [(e.text, e.reporter.phone) for e in published] == [("jalan berlubang", "+6281298765432")]


async def test_kannel_without_message_id_retries_map_to_one_complaint(sms):
    client, published, _ = sms
    params = {"key": KANNEL_KEY, "sender": "081298765432", "time": "2026-11-27 08:15:00",
              "text": "SURGA sampah menumpuk"}
    for _ in range(2):
        assert (await client.get("/kannel/inbound", params=params)).status_code == 202
    assert len({e.complaint_id for e in published}) == 1 and len(published) == 2


async def test_sms_without_keyword_publishes_the_format_help_reply(sms):
    client, published, replies = sms
    answer = await client.get("/kannel/inbound", params={"key": KANNEL_KEY, "id": "k-3", "sender": "081298765432",
                                                         "text": "halo"})
    assert answer.status_code == 202 and answer.json() == {"complaint": False, "reason": "not_a_complaint",
                                                           "reply": "format_help"}
    assert published == []
    [reply] = replies
    assert (reply.to, reply.reason, reply.gateway, reply.channel) == ("+6281298765432", "format_help", "kannel", "sms")
    assert "SURGA <isi aduan>" in reply.text
    assert reply.reply_id == "format_help:kannel:k-3"  # a redelivered SMS asks for the same reply


async def test_sms_with_keyword_and_nothing_after_it_is_not_a_complaint(sms):
    client, published, replies = sms
    await client.get("/kannel/inbound", params={"key": KANNEL_KEY, "id": "k-4", "sender": "081298765432",
                                                "text": "SURGA:  "})
    assert published == [] and len(replies) == 1


async def test_generic_webhook_refuses_a_replayed_signature(sms):
    client, published, _ = sms
    body = json.dumps({"message_id": "g-1", "sender": "081234567890", "text": "SURGA lampu mati"}).encode()
    headers = sms_contract.signed(body)
    old = str(int(time.time()) - 3600)
    import hashlib
    import hmac
    headers.update({"X-Timestamp": old, "X-Signature": "sha256=" + hmac.new(
        sms_contract.SECRET.encode(), old.encode() + b"." + body, hashlib.sha256).hexdigest()})
    answer = await client.post("/api/v1/sms/inbound", content=body, headers=headers)
    assert (answer.status_code, answer.json()["reason"]) == (401, "stale_or_missing_timestamp")
    assert published == []


async def test_generic_webhook_accepts_the_shared_secret_header(sms):
    client, published, _ = sms
    body = json.dumps({"message_id": "g-2", "sender": "081234567890", "text": "SURGA lampu mati"}).encode()
    answer = await client.post("/api/v1/sms/inbound", content=body, headers={
        "Content-Type": "application/json", "X-Gateway-Secret": sms_contract.SECRET})
    assert answer.status_code == 202 and len(published) == 1


async def test_control_characters_are_removed_from_sms_text(sms):
    client, published, _ = sms
    await client.get("/kannel/inbound", params={"key": KANNEL_KEY, "id": "k-5", "sender": "081298765432",
                                                "text": "SURGA lampu\x00 mati\x1b[31m di gang"})
    assert published[0].text == "lampu mati[31m di gang"


async def test_whatsapp_verification_echoes_the_challenge_only_for_the_right_token(whatsapp):
    client, _, _ = whatsapp
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"}
    ok = await client.get("/webhook", params=params)
    assert (ok.status_code, ok.text) == (200, "42")
    bad = await client.get("/webhook", params={**params, "hub.verify_token": "guess"})
    assert bad.status_code == 403 and bad.json()["reason"] == "verification_failed"


async def post_signed(client, payload: dict) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post("/webhook", content=body, headers=wa.signed(body))


async def test_whatsapp_messages_become_complaints_and_a_replay_keeps_their_ids(whatsapp):
    client, published, _ = whatsapp
    payload = wa.payload(wa.text_message("wamid.A", "jalan rusak"), wa.text_message("wamid.B", "lampu mati"),
                         {"from": "6285755501234", "id": "wamid.C", "timestamp": "1764230400", "type": "reaction",
                          "reaction": {"message_id": "wamid.A", "emoji": "👍"}})
    for _ in range(2):  # Meta resends when it did not see our 200
        assert (await post_signed(client, payload)).status_code == 200
    assert [e.text for e in published] == ["jalan rusak", "lampu mati"] * 2
    assert len({e.complaint_id for e in published}) == 2
    assert published[0].reporter.name == "Rina" and published[0].reporter.phone == "+6285755501234"


async def test_whatsapp_image_document_and_location_are_kept_on_the_complaint(whatsapp):
    client, published, _ = whatsapp
    base = {"from": "6285755501234", "timestamp": "1764230400"}
    payload = wa.payload(
        {**base, "id": "wamid.IMG", "type": "image", "image": {
            "caption": "Jalan berlubang di depan SDN Bandar Lor", "mime_type": "image/jpeg",
            "sha256": "6a3b0c", "id": "1479537139650973"}},
        {**base, "id": "wamid.DOC", "type": "document", "document": {
            "filename": "surat.pdf", "mime_type": "application/pdf", "sha256": "9f1e", "id": "2255"}},
        {**base, "id": "wamid.LOC", "type": "location", "location": {
            "latitude": -7.8166, "longitude": 112.0111, "name": "Alun-alun Kediri", "address": "Jl. Alun-alun"}})
    assert (await post_signed(client, payload)).status_code == 200
    image, document, place = published
    assert image.text == "Jalan berlubang di depan SDN Bandar Lor"
    assert image.attachments[0].reference == "whatsapp-media:1479537139650973"
    assert image.attachments[0].mime_type == "image/jpeg"
    assert document.text == "[document tanpa keterangan]" and document.attachments[0].filename == "surat.pdf"
    assert (place.location.latitude, place.location.longitude) == (-7.8166, 112.0111)
    assert "Alun-alun Kediri" in place.text


async def test_whatsapp_status_callbacks_are_receipts_not_complaints(whatsapp):
    client, published, _ = whatsapp
    answer = await post_signed(client, wa.payload(statuses=[
        {"id": "wamid.A", "status": "delivered", "timestamp": "1764230400", "recipient_id": "6285755501234"},
        {"id": "wamid.B", "status": "played", "timestamp": "1764230400", "recipient_id": "6285755501234"}]))
    assert answer.status_code == 200 and answer.json()["accepted"] == [] and published == []
    assert [(o["id"], o["outcome"], o["reason"]) for o in answer.json()["outcomes"]] == [
        ("wamid.A", "receipt", "delivered"), ("wamid.B", "ignored", "status:played")]


async def test_whatsapp_status_button_while_the_status_api_is_away_is_503_for_meta_to_retry():
    # Port 9 (discard): nothing answers there.
    settings = WhatsAppSettings(app_secret=wa.SECRET, status_api_url="http://127.0.0.1:9", status_api_timeout_seconds=1)
    async with running(build_whatsapp(settings)) as (client, published, replies):
        tap = {"from": "6285755501234", "id": "wamid.TAP", "timestamp": "1764230400", "type": "interactive",
               "interactive": {"type": "button_reply",
                               "button_reply": {"id": "cek:K7M2Q-9XD4T", "title": "Cek status"}}}
        answer = await post_signed(client, wa.payload(tap))
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert replies == [] and published == []  # nothing answered: Meta resends the POST


async def test_whatsapp_many_messages_in_one_payload_are_all_published(whatsapp):
    client, published, _ = whatsapp
    messages = [wa.text_message(f"wamid.M{n}", f"aduan nomor {n}") for n in range(200)]
    answer = await post_signed(client, wa.payload(*messages))
    assert answer.status_code == 200 and len(answer.json()["accepted"]) == 200
    assert len({e.complaint_id for e in published}) == 200


async def test_kannel_without_mo_recode_sends_utf16_and_it_is_read_as_such(sms):
    client, published, _ = sms
    text = "SURGA Jum’at 😡 loket tutup"
    raw = "".join(f"%{byte:02X}" for byte in text.encode("utf-16-be"))
    answer = await client.get(f"/kannel/inbound?key={KANNEL_KEY}&id=k-ucs2&sender=081298765432&coding=2"
                              f"&charset=UTF-16BE&text={raw}")
    assert answer.status_code == 202, answer.text
    assert [e.text for e in published] == ["Jum’at 😡 loket tutup"]


async def test_kannel_keeps_line_breaks_and_double_spaces_of_the_text(sms):
    client, published, _ = sms
    await client.get("/kannel/inbound", params={"key": KANNEL_KEY, "id": "k-b", "sender": "081298765432",
                                                "charset": "UTF-8",
                                                "text": "SURGA Jalan  rusak\ndi depan SDN 2"})
    assert [e.text for e in published] == ["Jalan  rusak\ndi depan SDN 2"]


async def test_an_unjoined_later_part_of_a_long_sms_gets_no_format_help(sms):
    client, published, replies = sms
    answer = await client.get(f"/kannel/inbound?key={KANNEL_KEY}&id=k-part&sender=081298765432&udh=%05%00%03%2A%03%02"
                              "&text=dan+sudah+tiga+hari+tidak+diangkut")
    assert (answer.status_code, answer.json()["reason"]) == (202, "unjoined_part")
    assert published == [] and replies == []


async def test_kannel_post_url_reads_the_charset_of_content_type(sms):
    client, published, _ = sms
    answer = await client.post(f"/kannel/inbound?key={KANNEL_KEY}&id=k-post-ucs2&sender=081298765432",
                               content="SURGA Jum’at 😡 loket tutup".encode("utf-16-be"),
                               headers={"Content-Type": 'text/plain; charset="UTF-16BE"'})
    assert answer.status_code == 202, answer.text
    assert [e.text for e in published] == ["Jum’at 😡 loket tutup"]
