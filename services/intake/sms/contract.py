"""How the channel contract suite (tests/contract) talks to this channel: the generic signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from fastapi import FastAPI

from services.intake.sms.app import SmsSettings, build_app
from shared.contracts import complaint_id_for
from shared.settings import DatabaseSettings, KafkaSettings

SECRET = "contract-secret"
KANNEL_SECRET = "contract-kannel-secret"  # the key= Kannel's get-url carries
SPOOLED = True  # every SMS is kept in the inbound spool before the gateway is answered
PATH = "/api/v1/sms/inbound"


def build(kafka: KafkaSettings, db: DatabaseSettings) -> FastAPI:
    return build_app(SmsSettings(kafka=kafka, db=db, gateway_secret=SECRET, kannel_secret=KANNEL_SECRET))


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Timestamp": timestamp, "X-Signature": f"sha256={signature}"}


def complaint_id(message_id: str) -> str:
    """The complaint a valid request with this message id becomes."""
    return complaint_id_for("sms", f"generic:{message_id}")


def valid(message_id: str, text: str = "Lampu jalan di depan rumah mati sejak seminggu") -> dict:
    body = json.dumps({"message_id": message_id, "sender": "081234567890", "text": f"SURGA {text}"}).encode()
    return {"method": "POST", "url": PATH, "headers": signed(body), "content": body}


def invalid() -> list[tuple[str, dict, int]]:
    def post(body: bytes, headers: dict | None = None) -> dict:
        return {"method": "POST", "url": PATH, "headers": headers or signed(body), "content": body}

    ok = json.dumps({"message_id": "m1", "sender": "081234567890", "text": "SURGA lampu mati"}).encode()
    return [
        ("malformed JSON", post(b'{"message_id": "m1", "sender": '), 422),
        ("missing fields", post(b'{"text": "SURGA lampu mati"}'), 422),
        ("wrong content type", post(ok, {**signed(ok), "Content-Type": "text/plain"}), 415),
        ("forged signature", post(ok, signed(ok, secret="guess")), 401),
        ("missing signature", post(ok, {"Content-Type": "application/json"}), 401),
        ("unknown phone format", post(json.dumps({"message_id": "m2", "sender": "12-ab",
                                                   "text": "SURGA lampu mati"}).encode()), 422),
        ("text of 10,000 characters", post(json.dumps({"message_id": "m3", "sender": "081234567890",
                                                        "text": "SURGA " + "a" * 10_000}).encode()), 422),
        ("invalid UTF-8", post(b'{"message_id": "m4", "sender": "081234567890", "text": "SURGA \xff\xfe"}'), 422),
        ("body over the limit", post(b"{" + b" " * (300 * 1024) + b"}"), 413),
    ]
