"""What becomes of each part of a WhatsApp webhook. Every message type Meta documents has a deliberate
outcome (docs/whatsapp.md has the table):

- text, image, video, audio and voice notes, documents, location: a complaint;
- the "Cek status" button (and a template's quick reply with the same payload): the status, answered;
- stickers, contact cards, other buttons, list rows, Flows, orders, `unsupported`, types Meta adds
  later: not a complaint; the citizen is told what we can take, at most once a day;
- reactions, messages in groups, blank text: not a complaint, no answer (an answer would be noise,
  or would be read by the whole group);
- `system` (`user_changed_number`, `user_changed_user_id`): the citizen's new address, for the router;
- `statuses`: a receipt for the notifier's delivery;
- anything that cannot be read: set aside with the reason (topic whatsapp.unusable.v1), never the
  reason to refuse the rest of the webhook.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError

from services.intake.whatsapp.cloud_api import Contact, Message, Status, Value, Webhook
from shared.anonymity_keyword import anonymity_choice
from shared.channel_kit import IntakeKit, InvalidText, clean_text, describe
from shared.complaint_status import StatusLookup, not_found_reply, status_reply
from shared.contracts import (
    STATUS_BUTTON_PREFIX,
    Channel,
    CitizenAddress,
    CitizenContactChanged,
    CitizenReplyRequested,
    ComplaintReceived,
    DeliveryReceipt,
    DeliveryState,
    Reporter,
    normalise_tracking_code,
    seal_contact,
)
from shared.dead_letter import ERROR_LIMIT
from shared.local_time import WIB
from shared.phone import to_e164

log = structlog.get_logger(__name__)

COMPLAINT_TYPES = frozenset({"text", "image", "video", "audio", "document", "location"})
SILENT = {"reaction": "reaction"}  # not a complaint, and nothing to answer
FORMAT_HELP = ("SURGA: kirim aduan Anda sebagai pesan teks, boleh disertai foto, video, dokumen, pesan suara, "
               "atau lokasi. Stiker, kartu kontak, dan jenis pesan ini tidak dapat kami catat sebagai aduan. "
               "Agar identitas Anda dirahasiakan dari unit kerja, awali aduan dengan RAHASIA (atau ANONIM bila "
               "aduan boleh dipublikasikan).")
CHECK_HELP = "SURGA: tombol ini sudah tidak berlaku. Cek status aduan dengan kode lacaknya di {url}/status"


@dataclass(frozen=True)
class Sender:
    """Who wrote: a phone number, a BSUID, or both (a citizen with a username may withhold the number)."""

    phone: str | None  # E.164
    user_id: str | None  # BSUID
    username: str | None = None
    name: str | None = None

    @property
    def address(self) -> str:
        """Where answers go: the number when we have it (Meta recommends it), else the BSUID."""
        return self.phone or self.user_id or ""

    def reporter(self) -> Reporter:
        return Reporter(phone=self.phone, channel_user_id=self.user_id, username=self.username, name=self.name)


@dataclass
class Outcome:
    """What became of one part of the webhook, as the answer to Meta lists it (no identity in it)."""

    part: str  # "message", "status", "change"
    id: str | None  # the wamid, when there was one
    outcome: str  # complaint, status_answered, format_help, ignored, contact_changed, receipt, unusable
    reason: str | None = None
    tracking_code: str | None = None


@dataclass(frozen=True)
class Unusable:
    """A part of the webhook we could not use, with the reason."""

    part: str
    id: str | None
    reason: str
    raw: Any


@dataclass(frozen=True)
class Part:
    """One readable message (with its sender) or status of a webhook, or one that is not readable."""

    message: Message | None = None
    sender: Sender | None = None
    status: Status | None = None
    unusable: Unusable | None = None


def parts(webhook: Webhook) -> Iterator[Part]:
    """Every message and status of every change, each read on its own."""
    for entry in webhook.entry:
        for change in entry.changes:
            if change.field != "messages":
                continue  # another subscription field (account updates...): not ours to handle here
            try:
                value = Value.model_validate(change.value)
            except ValidationError as error:
                yield Part(unusable=Unusable("change", None, describe(error), change.value))
                continue
            for error in value.errors:  # Meta's account- or system-level problems: for operators
                code = error.get("code") if isinstance(error, dict) else None
                log.warning("whatsapp_platform_error", code=code, entry_id=entry.id)
            contacts = _contacts(value.contacts)
            for raw in value.messages:
                yield _message_part(raw, contacts, single=len(value.contacts) == 1)
            for raw in value.statuses:
                try:
                    yield Part(status=Status.model_validate(raw))
                except ValidationError as error:
                    yield Part(unusable=Unusable("status", _id_of(raw), describe(error), raw))


def _id_of(raw: Any) -> str | None:
    found = raw.get("id") if isinstance(raw, dict) else None
    return found[:200] if isinstance(found, str) else None


def _contacts(raw_contacts: list[Any]) -> list[Contact]:
    readable = []
    for raw in raw_contacts:
        try:
            readable.append(Contact.model_validate(raw))
        except ValidationError as error:  # a card we cannot read: the message still names its sender
            log.warning("whatsapp_contact_unreadable", error=describe(error))
    return readable


def _message_part(raw: Any, contacts: list[Contact], single: bool) -> Part:
    try:
        message = Message.model_validate(raw)
    except ValidationError as error:
        return Part(unusable=Unusable("message", _id_of(raw), describe(error), raw))
    card = _card_of(message, contacts, single)
    number = message.sender_phone or (card.wa_id if card else None)
    phone = to_e164(number) if number else None  # None also for digits that are no number anywhere
    user_id = message.sender_user_id or (card.user_id if card else None)
    if phone is None and user_id is None and message.type != "system":
        return Part(unusable=Unusable("message", message.id, "no sender: neither a phone number (from, wa_id) "
                                      "nor a business-scoped user id (from_user_id, user_id)", raw))
    profile = card.profile if card else None
    sender = Sender(phone=phone, user_id=user_id,
                    username=profile.username if profile else None, name=profile.name if profile else None)
    return Part(message=message, sender=sender)


def _card_of(message: Message, contacts: list[Contact], single: bool) -> Contact | None:
    """The sender's contact card: the one with the message's BSUID or number. A card is never matched by
    position among several: another citizen's name on this complaint would be a leak."""
    for card in contacts:
        if message.sender_user_id and card.user_id == message.sender_user_id:
            return card
        if message.sender_phone and card.wa_id == message.sender_phone:
            return card
    if single and len(contacts) == 1 and not (message.sender_user_id or message.sender_phone):
        return contacts[0]  # the message names no sender at all; the change's one card is its sender
    return None


def complaint_from(message: Message, sender: Sender, producer: str) -> ComplaintReceived | None:
    """The complaint a text, media or location message files; None when there is nothing to file."""
    attachment, place = message.attachment(), message.place()
    if message.type == "text":
        text = message.text.body if message.text else ""
    elif place:
        where = ", ".join(p for p in (place.name, place.address) if p)
        text = f"[lokasi {place.latitude:.6f}, {place.longitude:.6f}{': ' + where if where else ''}]"
    elif attachment:
        text = attachment.caption or ""
    else:
        return None  # a media type without its media object: nothing to file
    anonymity, text = anonymity_choice(text)  # "RAHASIA <aduan>", in a text or a caption
    try:
        text = clean_text(text)
    except InvalidText:
        if attachment is None:
            return None  # a blank message: nothing to file, and Meta must not retry it
        # A photo or voice note without words is still a complaint: the unit looks or listens.
        kind = "pesan suara" if message.audio and message.audio.voice else attachment.kind
        text = f"[{kind} tanpa keterangan]"
    return ComplaintReceived.new(
        channel=Channel.WHATSAPP, channel_message_id=message.id, text=text, producer=producer,
        received_at=message.sent_at, attachments=[attachment] if attachment else [], location=place,
        reporter=sender.reporter(), anonymity=anonymity)


class WhatsAppInbound:
    """Turns readable parts into events; every publish returns once Kafka has it (BrokerUnavailable else)."""

    def __init__(self, kit: IntakeKit, lookup: StatusLookup, public_base_url: str) -> None:
        self.kit, self.lookup, self.public_base_url = kit, lookup, public_base_url.rstrip("/")

    async def handle(self, part: Part) -> Outcome:
        if part.unusable:
            return await self._set_aside(part.unusable)
        if part.status:
            return await self._receipt(part.status)
        assert part.message and part.sender
        return await self._message(part.message, part.sender)

    async def _message(self, message: Message, sender: Sender) -> Outcome:
        def outcome(name: str, reason: str | None = None, code: str | None = None) -> Outcome:
            return Outcome("message", message.id, name, reason, code)

        if message.group_id:
            return outcome("ignored", "group_message")  # an answer would be read by the whole group
        if message.type == "system":
            return await self._contact_change(message)
        if message.type in SILENT:
            return outcome("ignored", SILENT[message.type])
        if (button := message.reply_id()) is not None:
            return outcome("status_answered" if button.startswith(STATUS_BUTTON_PREFIX) else "format_help",
                           message.type, await self._button(message, sender, button))
        if message.type in COMPLAINT_TYPES:
            event = complaint_from(message, sender, self.kit.producer)
            if event is None:
                return outcome("ignored", "empty_text")
            await self.kit.publish(event)
            return outcome("complaint", message.type, event.tracking_code)
        await self._help(message, sender)
        return outcome("format_help", message.type)

    async def _button(self, message: Message, sender: Sender, button: str) -> str | None:
        """The status for the "Cek status" button; the format help for any other button or row."""
        if not button.startswith(STATUS_BUTTON_PREFIX):
            await self._help(message, sender)
            return None
        code = normalise_tracking_code(button.removeprefix(STATUS_BUTTON_PREFIX))
        found = await self.lookup.find(code) if code else None  # StatusUnavailable: Meta retries
        if found is None:
            text = CHECK_HELP.format(url=self.public_base_url) if code is None else \
                not_found_reply(code, self.public_base_url)
        else:
            text = status_reply(found, WIB, self.public_base_url)
        await self._reply(f"status:{message.id}", sender.address, text, "status")
        return code

    async def _help(self, message: Message, sender: Sender) -> None:
        # Once a day per citizen: a citizen who sends five stickers hears it once, not five times.
        day = message.sent_at.astimezone(WIB).date().isoformat()
        who = hashlib.sha256(sender.address.encode()).hexdigest()[:24]
        await self._reply(f"format_help:whatsapp:{who}:{day}", sender.address, FORMAT_HELP, "format_help")

    async def _reply(self, reply_id: str, to: str, text: str, reason: str) -> None:
        await self.kit.publish_reply(CitizenReplyRequested(
            reply_id=reply_id, channel=Channel.WHATSAPP, to=to, text=text, reason=reason,
            producer=self.kit.producer, correlation_id=reply_id))

    async def _contact_change(self, message: Message) -> Outcome:
        system = message.system
        kind = system.type if system else None
        if kind not in ("user_changed_number", "user_changed_user_id") or system is None:
            return Outcome("message", message.id, "ignored", f"system:{kind}")
        old = CitizenAddress(phone=to_e164(message.sender_phone) if message.sender_phone else None,
                             channel_user_id=message.sender_user_id)
        if kind == "user_changed_number":  # a new number comes with a new BSUID
            new_phone = system.wa_id or system.new_wa_id  # new_wa_id: Graph API before v12
            new = CitizenAddress(phone=to_e164(new_phone) if new_phone else None, channel_user_id=system.user_id)
        else:  # user_changed_user_id: the same number, if we have it
            new = CitizenAddress(phone=old.phone, channel_user_id=system.user_id)
        if not (old.phone or old.channel_user_id) or not (new.phone or new.channel_user_id):
            return await self._set_aside(Unusable("message", message.id, f"{kind} without the old or the new "
                                                  "address", message.model_dump(mode="json", by_alias=True)))
        await self.kit.publish_event(CitizenContactChanged(
            change_id=f"whatsapp:{message.id}", channel=Channel.WHATSAPP, old=old, new=new, at=message.sent_at,
            new_sealed=seal_contact(Reporter(phone=new.phone, channel_user_id=new.channel_user_id)),
            producer=self.kit.producer, correlation_id=f"whatsapp:{message.id}"),
            self.kit.topics.contact_changes, key=old.phone or old.channel_user_id or "")
        return Outcome("message", message.id, "contact_changed", kind)

    async def _receipt(self, status: Status) -> Outcome:
        try:
            state = DeliveryState(status.status)
        except ValueError:  # "played" (a voice message), "deleted", or a state Meta adds later
            return Outcome("status", status.id, "ignored", f"status:{status.status[:30]}")
        error = status.errors[0] if status.errors else None
        await self.kit.publish_event(DeliveryReceipt(
            receipt_id=f"whatsapp:{status.id}:{state}", channel=Channel.WHATSAPP, message_id=status.id, state=state,
            at=status.at, error_code=error.code if error else None, error_title=error.title if error else None,
            producer=self.kit.producer, correlation_id=status.id), self.kit.topics.delivery_receipts, key=status.id)
        return Outcome("status", status.id, "receipt", state.value)

    async def _set_aside(self, part: Unusable) -> Outcome:
        """Kept on whatsapp.unusable.v1 with the reason (it may hold a phone number, as a complaint does);
        the log says only which part and why."""
        record = json.dumps({"part": part.part, "id": part.id, "reason": part.reason, "raw": part.raw,
                             "received_at": datetime.now(UTC).isoformat()}, ensure_ascii=False, default=str)
        await self.kit.publish_raw(self.kit.topics.whatsapp_unusable, record.encode(), key=part.id or "",
                                   headers={"x-error": part.reason[:ERROR_LIMIT]})
        log.warning("whatsapp_part_unusable", part=part.part, message_id=part.id, error=part.reason[:500])
        return Outcome(part.part, part.id, "unusable", part.reason[:500])
