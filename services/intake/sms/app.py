"""SMS intake: inbound SMS from a gateway (generic JSON webhook for now)."""

from __future__ import annotations

import secrets
from datetime import datetime

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from services.intake.sms.keyword import FORMAT_HELP, complaint_text
from shared.phone import to_e164
from shared.channel_kit import IntakeKit, create_intake_app
from shared.contracts import Channel, ComplaintReceived, Reporter
from shared.settings import ServiceSettings


class SmsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_SMS_")

    port: int = 8081
    # Shared secret the gateway sends in X-Gateway-Secret; empty disables the check (local only).
    gateway_secret: str = ""


class InboundSms(BaseModel):
    message_id: str = Field(min_length=1, max_length=200, description="the gateway's own message id")
    sender: str = Field(min_length=3, max_length=32)
    text: str = Field(max_length=1600)
    receiver: str | None = None
    received_at: datetime | None = None


def build_app(settings: SmsSettings | None = None) -> FastAPI:
    settings = settings or SmsSettings()
    kit = IntakeKit(settings, producer="intake-sms")
    app = create_intake_app(kit, title="Aduan SMS intake")

    @app.post("/api/v1/sms/inbound", status_code=202)
    async def inbound_sms(sms: InboundSms, x_gateway_secret: str = Header(default="")) -> dict:
        if settings.gateway_secret and not secrets.compare_digest(x_gateway_secret, settings.gateway_secret):
            raise HTTPException(status_code=401, detail="invalid gateway secret")
        sender = to_e164(sms.sender)
        if sender is None:
            raise HTTPException(status_code=422, detail={"reason": "invalid_sender",
                                                         "message": "sender is not a valid phone number"})
        text = complaint_text(sms.text)
        if text is None:
            raise HTTPException(status_code=422, detail={"reason": "not_a_complaint", "reply": FORMAT_HELP})
        event = ComplaintReceived.new(
            channel=Channel.SMS, channel_message_id=sms.message_id, text=text, producer=kit.producer,
            reporter=Reporter(phone=sender), received_at=sms.received_at,
        )
        await kit.publish(event)
        return {"complaint_id": event.complaint_id, "tracking_code": event.tracking_code}

    return app
