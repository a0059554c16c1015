"""How the channel contract suite (tests/contract) talks to this channel: signed Cloud API webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from fastapi import FastAPI

from services.intake.whatsapp.app import WhatsAppSettings, build_app
from shared.contracts import complaint_id_for
from shared.settings import DatabaseSettings, KafkaSettings

SECRET = "contract-app-secret"
BSUID = "ID.13491208655302741918"  # since April 2026 every message carries the sender's business-scoped user id


def build(kafka: KafkaSettings, db: DatabaseSettings) -> FastAPI:
    return build_app(WhatsAppSettings(kafka=kafka, db=db, app_secret=SECRET, verify_token="contract-verify"))


def payload(*messages: dict, statuses: list | None = None) -> dict:
    """The shape Meta sends for `messages` webhooks (WhatsApp Cloud API webhook reference; docs/whatsapp.md)."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100001708", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Rina"}, "wa_id": "6285755501234", "user_id": BSUID}],
            "messages": list(messages), "statuses": statuses or []}}]}]}


def text_message(wamid: str, body: str) -> dict:
    return {"from": "6285755501234", "from_user_id": BSUID, "id": wamid, "timestamp": str(int(time.time())),
            "type": "text", "text": {"body": body}}


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}


def complaint_id(message_id: str) -> str:
    """The complaint a valid request with this message id becomes."""
    return complaint_id_for("whatsapp", f"wamid.{message_id}")


def valid(message_id: str, text: str = "Lampu jalan di depan rumah mati sejak seminggu") -> dict:
    body = json.dumps(payload(text_message(f"wamid.{message_id}", text))).encode()
    return {"method": "POST", "url": "/webhook", "headers": signed(body), "content": body}


def invalid() -> list[tuple[str, dict, int]]:
    def post(body: bytes, headers: dict | None = None) -> dict:
        return {"method": "POST", "url": "/webhook", "headers": headers or signed(body), "content": body}

    ok = json.dumps(payload(text_message("wamid.X", "lampu mati"))).encode()
    return [
        ("malformed JSON", post(b'{"object": "whatsapp_business_account", "entry": ['), 400),
        ("missing fields", post(json.dumps({"entry": []}).encode()), 400),
        ("forged signature", post(ok, signed(ok, secret="guess")), 401),
        ("missing signature", post(ok, {"Content-Type": "application/json"}), 401),
        ("signature of another body", post(ok, signed(ok + b" ")), 401),
        ("invalid UTF-8", post(b'{"object": "whatsapp_business_account", "entry": [], "x": "\xff"}'), 400),
        ("body over the limit", post(b"{" + b" " * (4 * 1024 * 1024) + b"}"), 413),
    ]
