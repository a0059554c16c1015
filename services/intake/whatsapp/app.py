"""WhatsApp intake: the Cloud API webhook (verification GET, signed message POST)."""

from __future__ import annotations

import asyncio
import secrets

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from shared.phone import to_e164
from services.intake.whatsapp.cloud_api import WebhookPayload, signature_is_valid
from shared.channel_kit import IntakeKit, create_intake_app
from shared.contracts import Channel, ComplaintReceived, Reporter
from shared.settings import ServiceSettings


class WhatsAppSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_WHATSAPP_")

    port: int = 8082
    verify_token: SecretStr = SecretStr("local-verify-token")  # set in the Meta app dashboard
    app_secret: SecretStr = SecretStr("local-app-secret")  # signs every POST Meta sends


def build_app(settings: WhatsAppSettings | None = None) -> FastAPI:
    settings = settings or WhatsAppSettings()
    kit = IntakeKit(settings, producer="intake-whatsapp")
    app = create_intake_app(kit, title="Aduan WhatsApp intake")

    @app.get("/webhook", response_class=PlainTextResponse)
    async def verify(mode: str = Query(alias="hub.mode"), token: str = Query(alias="hub.verify_token"),
                     challenge: str = Query(alias="hub.challenge")) -> str:
        if mode != "subscribe" or not secrets.compare_digest(token, settings.verify_token.get_secret_value()):
            raise HTTPException(status_code=403, detail="verification failed")
        return challenge

    @app.post("/webhook")
    async def receive(request: Request) -> dict:
        raw = await request.body()
        if not signature_is_valid(settings.app_secret.get_secret_value(), raw,
                                  request.headers.get("x-hub-signature-256")):
            raise HTTPException(status_code=401, detail="invalid X-Hub-Signature-256")
        try:
            payload = WebhookPayload.model_validate_json(raw)
        except ValidationError as error:
            raise HTTPException(status_code=400, detail=f"not a WhatsApp webhook payload: {error}") from error
        events = [
            ComplaintReceived.new(
                channel=Channel.WHATSAPP, channel_message_id=message.id, text=message.text.body,
                producer=kit.producer, received_at=message.sent_at,
                reporter=Reporter(phone=to_e164(message.sender),
                                  name=contact.profile.name if contact and contact.profile else None),
            )
            for message, contact in payload.messages()
            if message.type == "text" and message.text and message.text.body.strip()
        ]
        # Concurrently, so a payload with many messages still answers within Meta's timeout;
        # a failure makes the whole POST 503 and Meta resends it (complaint ids dedupe).
        await asyncio.gather(*(kit.publish(event) for event in events))
        return {"accepted": [e.tracking_code for e in events]}

    return app
