"""One inbound SMS, whichever gateway brought it: a complaint, or a reply explaining the format."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel

from services.intake.sms.keyword import FORMAT_HELP, complaint_text
from shared.channel_kit import IntakeKit, InvalidText, clean_text
from shared.contracts import Channel, CitizenReplyRequested, ComplaintReceived, Reporter
from shared.phone import to_e164

MAX_SMS_TEXT = 1600  # ten concatenated parts


class InboundSms(BaseModel):
    gateway: str  # "kannel", "gammu", "generic": replies go back the same way
    message_id: str
    sender: str
    text: str
    receiver: str | None = None
    received_at: datetime | None = None


def fallback_message_id(gateway: str, sender: str, sent_at: str, text: str) -> str:
    """For gateways that give no id: the same SMS delivered twice gets the same id."""
    digest = hashlib.sha256(f"{sender}\0{sent_at}\0{text}".encode()).hexdigest()[:32]
    return f"{gateway}:{digest}"


async def accept_sms(kit: IntakeKit, sms: InboundSms) -> dict:
    """Publish the complaint, or ask for the format help to be sent; returns what happened."""
    sender = to_e164(sms.sender)
    if sender is None:
        raise InvalidText("invalid_sender", f"Nomor pengirim tidak dikenali: {len(sms.sender)} karakter.")
    text = complaint_text(clean_text(sms.text, MAX_SMS_TEXT)) if sms.text.strip() else None
    if text is None:
        await kit.publish_reply(CitizenReplyRequested(
            reply_id=f"format_help:{sms.gateway}:{sms.message_id}", channel=Channel.SMS, to=sender,
            text=FORMAT_HELP, reason="format_help", gateway=sms.gateway,
            producer=kit.producer, correlation_id=f"{sms.gateway}:{sms.message_id}"))
        return {"complaint": False, "reason": "not_a_complaint", "reply": "format_help"}
    event = ComplaintReceived.new(
        channel=Channel.SMS, channel_message_id=f"{sms.gateway}:{sms.message_id}", text=text,
        producer=kit.producer, reporter=Reporter(phone=sender), received_at=sms.received_at)
    await kit.publish(event)
    return {"complaint": True, "complaint_id": event.complaint_id, "tracking_code": event.tracking_code}
