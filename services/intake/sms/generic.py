"""A generic JSON webhook for commercial SMS gateways.

    POST /api/v1/sms/inbound
    {"message_id": "...", "sender": "0812...", "text": "SURGA ...", "receiver": "1708", "received_at": "..."}

Authenticated by one of:
- `X-Signature: sha256=<hex HMAC-SHA256(secret, "<X-Timestamp>.<raw body>")>` with `X-Timestamp`
  (Unix seconds, at most five minutes off: a captured request cannot be replayed later);
- `X-Gateway-Secret: <secret>`, for gateways that can only send a fixed header.
"""

from __future__ import annotations

import re
import secrets
import time

from pydantic import AwareDatetime, BaseModel, Field

from services.intake.sms.inbound import InboundSms
from shared.channel_kit import signature_is_valid

GATEWAY = "generic"
MAX_CLOCK_SKEW_SECONDS = 300


class GenericSms(BaseModel):
    message_id: str = Field(min_length=1, max_length=200, description="the gateway's own message id")
    sender: str = Field(min_length=3, max_length=32)
    text: str = Field(max_length=20_000)
    receiver: str | None = Field(default=None, max_length=32)
    received_at: AwareDatetime | None = None

    def inbound(self) -> InboundSms:
        return InboundSms(gateway=GATEWAY, message_id=self.message_id, sender=self.sender,
                          receiver=self.receiver, text=self.text, received_at=self.received_at)


def authenticated(secret: str, raw_body: bytes, headers: dict[str, str]) -> str | None:
    """None when the request is authentic, else the reason it is not."""
    if not secret:
        return "gateway_secret_not_set"  # fail closed: an open webhook lets anyone file under any number
    if signature := headers.get("x-signature"):
        timestamp = headers.get("x-timestamp", "")
        # ASCII digits, and few: "²".isdigit() is true but int() refuses it; so does int() a 5,000-digit value.
        if not re.fullmatch(r"[0-9]{1,12}", timestamp) or abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            return "stale_or_missing_timestamp"
        if not signature_is_valid(secret, timestamp.encode() + b"." + raw_body, signature):
            return "bad_signature"
        return None
    if shared := headers.get("x-gateway-secret"):
        return None if secrets.compare_digest(shared.encode(), secret.encode()) else "bad_secret"
    return "missing_signature"
