"""One inbound SMS, whichever gateway brought it: a complaint, a status check, the citizen's reply to a
response, or a reply explaining the format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel

from services.intake.sms.keyword import (
    CHECK_HELP,
    FORMAT_HELP,
    REPLY_HELP,
    ReplyToResponse,
    StatusCheck,
    complaint_text,
    reply_to_response,
    status_check,
)
from shared.anonymity_keyword import anonymity_choice
from shared.channel_kit import IntakeKit, InvalidText, clean_text
from shared.complaint_status import (
    StatusLookup,
    not_found_reply,
    reply_refused,
    reply_taken,
    status_reply,
)
from shared.contracts import (
    MAX_MESSAGE,
    Channel,
    CitizenReplied,
    CitizenReplyRequested,
    ComplaintReceived,
    Reporter,
    citizen_reply_id_for,
    contact_digest,
)
from shared.phone import to_e164
from shared.statuses import CITIZEN_MAY_REPLY

log = structlog.get_logger(__name__)
MAX_SMS_TEXT = 1600  # ten concatenated parts


class InboundSms(BaseModel):
    gateway: str  # "kannel", "gammu", "generic": replies go back the same way
    message_id: str
    sender: str
    text: str
    receiver: str | None = None
    received_at: datetime | None = None
    # A later part of a long SMS that the gateway could not join (Kannel after a restart between the
    # parts): without the keyword it is the rest of a message, not a stray SMS to answer with help.
    later_part: bool = False


def part_number(udh: bytes) -> int:
    """Which part of a concatenated SMS this is (1 when it is not one), from its user data header:
    information element 00 (8-bit reference) or 08 (16-bit reference), the part number last."""
    position, end = 1, 1 + (udh[0] if udh else 0)
    while position + 1 < min(end, len(udh)):
        element, length = udh[position], udh[position + 1]
        value = udh[position + 2:position + 2 + length]
        if element in (0x00, 0x08) and len(value) == length and length in (3, 4):
            return value[-1]
        position += 2 + length
    return 1


def fallback_message_id(gateway: str, sender: str, sent_at: str, text: str) -> str:
    """For gateways that give no id: the same SMS delivered twice gets the same id."""
    digest = hashlib.sha256(f"{sender}\0{sent_at}\0{text}".encode()).hexdigest()[:32]
    return f"{gateway}:{digest}"


@dataclass(frozen=True)
class StatusDesk:
    """What answering `SURGA CEK <kode>` needs: where the statuses are, and how to word the reply."""

    lookup: StatusLookup
    zone: ZoneInfo  # the citizen's dates
    public_base_url: str  # the status page named in replies


def validated(sms: InboundSms) -> InboundSms:
    """The SMS with its sender in E.164; InvalidText when it can never be handled (told to the gateway
    before anything is kept)."""
    sender = to_e164(sms.sender)
    if sender is None:
        raise InvalidText("invalid_sender", f"Nomor pengirim tidak dikenali: {len(sms.sender)} karakter.")
    if sms.text.strip():
        clean_text(sms.text, MAX_SMS_TEXT)  # refuses an oversized text
    return sms.model_copy(update={"sender": sender})


async def handle_sms(kit: IntakeKit, sms: InboundSms, desk: StatusDesk) -> dict:
    """Publish the complaint, answer a status check, or ask for the format help to be sent;
    returns what happened. BrokerUnavailable or StatusUnavailable: nothing decided, try again later."""
    sender = validated(sms).sender
    text = complaint_text(clean_text(sms.text, MAX_SMS_TEXT)) if sms.text.strip() else None
    if text is None and sms.later_part:
        log.warning("sms_unjoined_part", gateway=sms.gateway)
        return {"complaint": False, "reason": "unjoined_part"}
    if text is None:
        await _reply(kit, sms, sender, FORMAT_HELP, "format_help")
        return {"complaint": False, "reason": "not_a_complaint", "reply": "format_help"}
    if check := status_check(text):
        await _reply(kit, sms, sender, await _status_text(check, desk), "status")
        return {"complaint": False, "reason": "status_check", "reply": "status"}
    if (answer := reply_to_response(text)) and (outcome := await _take_reply(kit, sms, sender, answer, desk)):
        await _reply(kit, sms, sender, outcome, "status")
        return {"complaint": False, "reason": "reply_to_response", "reply": "status"}
    anonymity, text = anonymity_choice(text)
    if not text.strip():  # "SURGA RAHASIA" and nothing after it
        await _reply(kit, sms, sender, FORMAT_HELP, "format_help")
        return {"complaint": False, "reason": "not_a_complaint", "reply": "format_help"}
    event = ComplaintReceived.new(
        channel=Channel.SMS, channel_message_id=f"{sms.gateway}:{sms.message_id}", text=text.strip(),
        producer=kit.producer, reporter=Reporter(phone=sender), received_at=sms.received_at, anonymity=anonymity)
    await kit.publish(event)
    return {"complaint": True, "complaint_id": event.complaint_id, "tracking_code": event.tracking_code}


async def _status_text(check: StatusCheck, desk: StatusDesk) -> str:
    """StatusUnavailable when the status API does not answer: nothing is published, the gateway retries."""
    if not check.typed:
        return CHECK_HELP
    found = await desk.lookup.find(check.code) if check.code else None
    if found is None:
        return not_found_reply(check.code or check.typed, desk.public_base_url)
    return status_reply(found, desk.zone, desk.public_base_url)


async def _take_reply(kit: IntakeKit, sms: InboundSms, sender: str, answer: ReplyToResponse,
                      desk: StatusDesk) -> str | None:
    """Pass the citizen's reply on when their complaint has a response to reply to; what to tell them, or
    None when the SMS is a complaint after all. The router takes it only from the reporter's own number
    (`sender_digest`): a code alone must not stop a complaint's closure."""
    if not answer.text and not answer.typed:
        return REPLY_HELP
    found = await desk.lookup.find(answer.code) if answer.code else None
    if found is None:
        return None if answer.may_be_words else not_found_reply(answer.code or answer.typed, desk.public_base_url)
    if not answer.text:
        return REPLY_HELP
    if found.status not in CITIZEN_MAY_REPLY:
        return reply_refused(found)
    await kit.publish_citizen_reply(CitizenReplied(
        reply_id=citizen_reply_id_for(Channel.SMS, f"{sms.gateway}:{sms.message_id}"),
        complaint_id=found.complaint_id, tracking_code=found.tracking_code, channel=Channel.SMS,
        text=answer.text[:MAX_MESSAGE], received_at=sms.received_at or datetime.now(UTC), producer=kit.producer,
        correlation_id=found.complaint_id, sender_digest=contact_digest(sender)))
    return reply_taken(found)


async def _reply(kit: IntakeKit, sms: InboundSms, to: str, text: str, reason: str) -> None:
    # The reply id comes from the gateway's message id: a redelivered SMS asks for the same reply.
    await kit.publish_reply(CitizenReplyRequested(
        reply_id=f"{reason}:{sms.gateway}:{sms.message_id}", channel=Channel.SMS, to=to, text=text, reason=reason,
        gateway=sms.gateway, producer=kit.producer, correlation_id=f"{sms.gateway}:{sms.message_id}"))
