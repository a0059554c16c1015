"""WhatsApp intake: the Cloud API webhook (verification GET, signed message POST)."""

from __future__ import annotations

import asyncio
import secrets

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from services.intake.whatsapp.cloud_api import Contact, Message, WebhookPayload
from shared.channel_kit import IntakeKit, InvalidText, clean_text, create_intake_app, describe, signature_is_valid
from shared.contracts import Channel, ComplaintReceived, Reporter
from shared.phone import to_e164
from shared.settings import ServiceSettings

# Meta sends up to 1,000 updates per POST and waits about 10 s before retrying. Payloads are
# small JSON; 3 MiB leaves room for any batch Meta sends.
BODY_LIMIT = 3 * 1024 * 1024


class WhatsAppSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_WHATSAPP_")

    port: int = 8082
    verify_token: SecretStr = SecretStr("local-verify-token")  # set in the Meta app dashboard
    app_secret: SecretStr = SecretStr("local-app-secret")  # signs every POST Meta sends


def complaint_from(message: Message, contact: Contact | None, producer: str) -> ComplaintReceived | None:
    text = message.complaint_text()
    if text is None:
        return None
    attachment = message.attachment()
    try:
        text = clean_text(text)
    except InvalidText:
        if attachment is None:
            return None  # a blank message: nothing to file, and Meta must not retry it
        # A photo whose caption is only spaces is still a complaint: it used to be dropped.
        text = f"[{attachment.kind} tanpa keterangan]"
    return ComplaintReceived.new(
        channel=Channel.WHATSAPP, channel_message_id=message.id, text=text, producer=producer,
        received_at=message.sent_at, attachments=[attachment] if attachment else [], location=message.place(),
        reporter=Reporter(phone=to_e164(message.sender),
                          name=contact.profile.name if contact and contact.profile else None))


def build_app(settings: WhatsAppSettings | None = None) -> FastAPI:
    settings = settings or WhatsAppSettings()
    kit = IntakeKit(settings, producer="intake-whatsapp", channel=Channel.WHATSAPP)
    app = create_intake_app(kit, title="Aduan WhatsApp intake", body_limit=BODY_LIMIT)

    @app.get("/webhook", response_class=PlainTextResponse, response_model=None)
    async def verify(mode: str = Query(alias="hub.mode"), token: str = Query(alias="hub.verify_token"),
                     challenge: str = Query(alias="hub.challenge")) -> str | JSONResponse:
        if mode != "subscribe" or not secrets.compare_digest(
                token.encode(), settings.verify_token.get_secret_value().encode()):
            return kit.reject("verification_failed", "hub.verify_token does not match", status=403)
        return challenge

    @app.post("/webhook", response_model=None)
    async def receive(request: Request) -> dict | JSONResponse:
        raw = await request.body()
        if not signature_is_valid(settings.app_secret.get_secret_value(), raw,
                                  request.headers.get("x-hub-signature-256")):
            return kit.reject("bad_signature", "invalid or missing X-Hub-Signature-256", status=401)
        try:
            payload = WebhookPayload.model_validate_json(raw)
        except ValidationError as error:
            return kit.reject("invalid_payload", f"not a WhatsApp webhook payload: {describe(error)}", status=400)
        events = [e for m, c in payload.messages() if (e := complaint_from(m, c, kit.producer))]
        # Concurrently, so a payload with many messages still answers within Meta's timeout;
        # a failure makes the whole POST 503 and Meta resends it (the wamid dedupes).
        await asyncio.gather(*(kit.publish(event) for event in events))
        return {"accepted": [e.tracking_code for e in events]}

    return app
