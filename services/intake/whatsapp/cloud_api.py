"""The parts of the WhatsApp Business Cloud API webhook we use: payload shapes and signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")  # Meta adds fields; they must not break us


class TextBody(_Lenient):
    body: str


class Message(_Lenient):
    id: str  # the wamid: Meta's retries carry the same one
    timestamp: str
    type: str
    text: TextBody | None = None
    # "from" is a Python keyword
    sender: str = ""

    def __init__(self, **data: object) -> None:
        if "from" in data:
            data["sender"] = data.pop("from")
        super().__init__(**data)

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(int(self.timestamp), UTC)


class Profile(_Lenient):
    name: str | None = None


class Contact(_Lenient):
    wa_id: str
    profile: Profile | None = None


class Value(_Lenient):
    messaging_product: str | None = None
    contacts: list[Contact] = []
    messages: list[Message] = []
    statuses: list[dict] = []  # delivery receipts: accepted and ignored


class Change(_Lenient):
    field: str
    value: Value


class Entry(_Lenient):
    id: str
    changes: list[Change] = []


class WebhookPayload(_Lenient):
    object: str
    entry: list[Entry] = []

    def messages(self) -> list[tuple[Message, Contact | None]]:
        """Every message in the payload with the sender's contact card, if Meta sent one."""
        found = []
        for entry in self.entry:
            for change in entry.changes:
                contacts = {c.wa_id: c for c in change.value.contacts}
                found.extend((m, contacts.get(m.sender)) for m in change.value.messages)
        return found


def signature_is_valid(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """X-Hub-Signature-256: "sha256=" + HMAC-SHA256(app secret, raw body), compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))
