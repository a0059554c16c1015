"""How the channel contract suite (tests/contract) talks to this channel: the JSON API."""

from __future__ import annotations

import json

from fastapi import FastAPI

from services.intake.web.app import build_app
from services.intake.web.intake import scoped
from services.intake.web.settings import WebSettings
from shared.contracts import Anonymity, Reporter, complaint_id_for
from shared.settings import DatabaseSettings, KafkaSettings

PATH = "/api/v1/complaints"
STATUS_URL = "/api/v1/complaints/{code}"  # must not know a complaint Kafka never acknowledged


def build(kafka: KafkaSettings, db: DatabaseSettings) -> FastAPI:
    return build_app(WebSettings(kafka=kafka, db=db, submissions_burst=1000))


TEXT = "Lampu jalan di depan rumah mati sejak seminggu"
CONTROL_CHARACTERS = "".join(map(chr, (0, 1, 2, 3, 4, 5, 6, 7, 8, 11)))


def complaint_id(message_id: str) -> str:
    """The complaint a valid request with this message id becomes: the key scoped by what was sent."""
    return complaint_id_for("web", scoped("api", message_id, TEXT, Reporter(), Anonymity.NONE, None))


def valid(message_id: str, text: str = TEXT) -> dict:
    return {"method": "POST", "url": PATH, "content": json.dumps({"text": text}).encode(),
            "headers": {"Content-Type": "application/json", "Idempotency-Key": message_id}}


def invalid() -> list[tuple[str, dict, int]]:
    def post(body: bytes, content_type: str = "application/json") -> dict:
        return {"method": "POST", "url": PATH, "content": body, "headers": {"Content-Type": content_type}}

    return [
        ("malformed JSON", post(b'{"text": "lampu jalan mati'), 422),
        ("missing fields", post(b'{"name": "Budi"}'), 422),
        ("wrong content type", post(b"text=lampu+jalan+mati+sejak+kemarin", "application/x-www-form-urlencoded"), 415),
        ("text of 10,000 characters", post(json.dumps({"text": "a" * 10_000}).encode()), 422),
        ("invalid UTF-8", post(b'{"text": "lampu jalan mati \xff\xfe sejak kemarin"}'), 400),
        ("control characters only", post(json.dumps({"text": CONTROL_CHARACTERS}).encode()), 422),
        ("unknown phone format", post(json.dumps({"text": "lampu jalan mati sejak kemarin", "phone": "12"}).encode()),
         422),
        ("body over the limit", post(b"{" + b" " * (300 * 1024) + b"}"), 413),
    ]
