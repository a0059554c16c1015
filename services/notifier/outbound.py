"""The notifier's outbound adapters: unit webhooks, SMS gateways (Kannel, Gammu SMSD, a generic HTTP
gateway), the WhatsApp Cloud API.

Each raises what shared/jobs.py understands: RetryLater (429/503), PermanentFailure (the
counterpart refused the content), anything else for a transient failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from services.notifier.gammu_outbox import GammuOutbox
from services.notifier.settings import NotifierSettings
from services.notifier.sms_limits import SmsLimits
from services.notifier.sms_text import SmsText
from shared.jobs import PermanentFailure, raise_for_http

WHATSAPP_WINDOW = timedelta(hours=24)  # Meta allows free text only this long after the citizen wrote


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class Outbound:
    def __init__(self, settings: NotifierSettings, sms_limits: SmsLimits | None = None) -> None:
        self.settings = settings
        self.sms_limits = sms_limits  # None only where nothing is counted (unit tests of the gateways' calls)
        self.http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
        self.gammu = GammuOutbox(settings.gammu_database_url) if "gammu" in settings.sms_gateways else None

    async def close(self) -> None:
        await self.http.aclose()
        if self.gammu:
            await self.gammu.close()

    async def unit_webhook(self, url: str, unit_code: str, payload: dict, delivery_id: str) -> None:
        """JSON signed over "<timestamp>.<body>", so a captured request cannot be replayed later."""
        secret = self.settings.webhook_secrets.get(unit_code)
        if secret is None:
            raise PermanentFailure(f"no webhook secret configured for unit {unit_code}")
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        response = await self.http.post(url, content=body, headers={
            "Content-Type": "application/json", "X-Aduan-Timestamp": timestamp, "X-Aduan-Delivery": delivery_id,
            "X-Aduan-Signature": sign(secret.get_secret_value(), timestamp, body)})
        raise_for_http(response, "unit webhook")

    def sms_gateway_for(self, gateway: str | None) -> str:
        """The gateway the citizen wrote through ("gammu-modem1" is Gammu), so the answer comes from the
        number they wrote to; the city's first gateway when that one is not run here, or not known."""
        kind = "gammu" if gateway and gateway.startswith("gammu") else gateway
        return kind if kind in self.settings.sms_gateways else self.settings.sms_gateways[0]

    async def sms(self, to: str, text: str, reference: str, gateway: str | None = None) -> None:
        """NotSent or RetryLater when the SMS limits say so (services/notifier/sms_limits.py)."""
        s = self.settings
        if self.sms_limits:
            await self.sms_limits.admit(to, reference)
        route = self.sms_gateway_for(gateway)
        if route == "gammu":
            assert self.gammu is not None  # settings refuse gammu without its database
            await self.gammu.send(to, text, reference)
            return
        if route == "kannel":
            # The text travels as UTF-8; coding tells Kannel what the phone gets (and so how it splits):
            # 7-bit where every character is GSM 03.38, else UCS-2 ("Jum’at" with coding=0 became "Jum?at").
            response = await self.http.get(s.kannel_sendsms_url, params={
                "username": s.kannel_username, "password": s.kannel_password.get_secret_value(),
                "from": s.sms_sender, "to": to, "text": text, "charset": "UTF-8",
                "coding": "2" if SmsText.of(text).unicode else "0"})
        else:
            body = json.dumps({"to": to, "text": text, "reference": reference}).encode()
            timestamp = str(int(time.time()))
            response = await self.http.post(s.generic_sms_url, content=body, headers={
                "Content-Type": "application/json", "X-Timestamp": timestamp,
                "X-Signature": sign(s.generic_sms_secret.get_secret_value(), timestamp, body)})
        raise_for_http(response, f"SMS gateway ({route})")

    async def whatsapp(self, to: str, text: str, last_inbound_at: datetime,
                       template: tuple[str, list[str]] | None, button: tuple[str, str] | None = None,
                       ) -> WhatsAppSent | None:
        """Free text inside the 24-hour window after the citizen's last message (with a reply button when
        `button` is (id, title)); outside it the approved `template` (name, parameters), or nothing (None)
        when no template fits, e.g. an answer to a message of days ago. `to`: a phone number or a BSUID."""
        if datetime.now(UTC) - last_inbound_at >= WHATSAPP_WINDOW:
            return await self.whatsapp_template(to, *template) if template else None
        if button:
            message = {"type": "interactive", "interactive": {
                "type": "button", "body": {"text": text[:1024]},
                "action": {"buttons": [{"type": "reply", "reply": {"id": button[0], "title": button[1]}}]}}}
        else:
            message = {"type": "text", "text": {"body": text, "preview_url": False}}
        sent = await self._whatsapp_send(to, message)
        # If Meta reports it failed for the window after all (131047), the template goes instead.
        fallback = {"to": to, "template": template[0], "parameters": template[1]} if template else None
        return WhatsAppSent(sent, message["type"], fallback)

    async def whatsapp_template(self, to: str, template: str, parameters: list[str]) -> WhatsAppSent:
        """An approved template: allowed whenever the citizen last wrote."""
        sent = await self._whatsapp_send(to, {"type": "template", "template": {
            "name": template, "language": {"code": self.settings.whatsapp_template_language},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}]}})
        return WhatsAppSent(sent, "template", None)

    async def _whatsapp_send(self, to: str, message: dict) -> str:
        s = self.settings
        response = await self.http.post(
            f"{s.whatsapp_api_url}/{s.whatsapp_phone_number_id}/messages",
            json={"messaging_product": "whatsapp", "recipient_type": "individual", **whatsapp_address(to), **message},
            headers={"Authorization": f"Bearer {s.whatsapp_token.get_secret_value()}"})
        raise_for_http(response, "WhatsApp Cloud API")
        return response.json()["messages"][0]["id"]


def whatsapp_address(to: str) -> dict[str, str]:
    """A phone number goes in `to`, a business-scoped user id (BSUID, "ID.1349...") in `recipient`, as Meta's
    Cloud API asks: a BSUID in `to` is answered 200 and never delivered."""
    digits = to.lstrip("+")
    return {"to": digits} if digits.isdigit() else {"recipient": to}


@dataclass(frozen=True)
class WhatsAppSent:
    """What the Cloud API took: its message id (its statuses name it), how it went, and the template to send
    instead should Meta report the free text failed for the 24-hour window."""

    message_id: str
    sent_as: str
    fallback: dict | None

    def record(self) -> dict:
        return {"message_id": self.message_id, "sent_as": self.sent_as, "fallback": self.fallback}
