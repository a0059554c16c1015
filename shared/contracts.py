"""Event contracts: one pydantic model per event, each with the common envelope.

Compatibility rule: add optional fields freely; anything else is a new
`schema_version` and a new topic suffix (`.v2`), see shared/topics.py.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    field_validator,
)

from shared import contact_seal
from shared.statuses import ComplaintStatus as ComplaintStatus  # the vocabulary's home; re-exported

# Fixed namespace: complaint ids must be the same on every machine, forever.
COMPLAINT_NAMESPACE = uuid.UUID("6f1b2c1e-5c1a-4f57-9a53-0d7b6a1f2e10")

# Crockford base32: no I, L, O, U, so a code read aloud or typed on a phone is unambiguous.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TYPO_FIXES = str.maketrans({"O": "0", "I": "1", "L": "1"})
TRACKING_CODE_LENGTH = 10  # 50 bits: collision odds below 1e-5 at 100,000 complaints


MAX_MESSAGE_ID = 200
MAX_MESSAGE = 3000  # characters of what a unit or a citizen writes about a complaint (response, reply, caption)


def _without_nul(value: str) -> str:
    return value.replace("\x00", "")


# Text that came from outside (a name, a caption, a gateway's id). Consumers store events in
# PostgreSQL, whose text and jsonb refuse NUL: one event with "\u0000" in a name failed the
# router's batch on every redelivery and stalled its partition. NUL carries no meaning; it goes.
Storable = Annotated[str, AfterValidator(_without_nul)]


# A channel is a name, not a closed list: a new channel is a new folder, not a contract change.
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,30}$")]
# An e-mail address inside an event. Addresses are checked in full where they come in (the web form and API
# with email_validator, the units registry with EmailStr); an event's reader checks only that it is one
# address without spaces, line breaks or list separators (what a mail header needs). email_validator on every
# event read was 4-13 % of each consuming service's CPU (py-spy, docs/performance.md).
EmailAddress = Annotated[str, StringConstraints(pattern=r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$",
                                                max_length=254), Field(json_schema_extra={"format": "email"})]
_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")


class Channel:
    """The channels that ship today."""

    WEB = "web"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Anonymity(StrEnum):
    """The reporter's choice, as SP4N-LAPOR! offers it."""

    NONE = "none"  # identity may be shown to the unit
    ANONIM = "anonim"  # report may be public, identity hidden
    RAHASIA = "rahasia"  # report not public, identity hidden

    @property
    def hides_identity(self) -> bool:
        return self is not Anonymity.NONE


def complaint_id_for(channel: str, channel_message_id: str) -> str:
    """Same channel message, same complaint: a gateway or Meta retry cannot create a second one."""
    if not _CHANNEL_NAME.match(channel):
        raise ValueError(f"not a channel name: {channel!r}")
    return str(uuid.uuid5(COMPLAINT_NAMESPACE, f"{channel}:{channel_message_id}"))


def _fitted_message_id(channel_message_id: str) -> str:
    """The channel's id as the event carries it. One longer than the event allows (a Kannel id, an
    Idempotency-Key, with our prefix) failed validation: a 500 on every retry. It becomes a readable
    head and a digest of the whole, the same on every retry; the complaint id uses the whole id.
    So does an id of NUL only, which would be empty once stored."""
    if len(channel_message_id) <= MAX_MESSAGE_ID and _without_nul(channel_message_id):
        return channel_message_id
    digest = hashlib.sha256(channel_message_id.encode()).hexdigest()
    return f"{channel_message_id[:MAX_MESSAGE_ID - 72]}~sha256:{digest}"


@functools.cache
def tracking_code_key() -> bytes:
    """The key tracking codes are made with: ADUAN_TRACKING_CODE_KEY, the same for every intake and replica
    (a retried message must get its code again wherever it lands). Unset: a random key for this process,
    so codes are still unguessable but differ between processes (tracking_code_key_is_shared says so)."""
    configured = os.environ.get("ADUAN_TRACKING_CODE_KEY", "")
    return configured.encode() if configured else secrets.token_bytes(32)


def tracking_code_key_is_shared() -> bool:
    return bool(os.environ.get("ADUAN_TRACKING_CODE_KEY"))


def tracking_code_for(complaint_id: str) -> str:
    """Short code a citizen can type: 10 Crockford base32 characters shown as XXXXX-XXXXX.

    Keyed (HMAC-SHA256 with tracking_code_key): the code alone shows the unit's response and takes
    replies, and complaint ids are computable from the channel's message id (Gammu's are sequential, the
    web's Idempotency-Key is the caller's), so an unkeyed hash made codes computable too."""
    digest = hmac.new(tracking_code_key(), complaint_id.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(TRACKING_CODE_LENGTH):
        number, index = divmod(number, 32)
        chars.append(_CROCKFORD[index])
    code = "".join(chars)
    return f"{code[:5]}-{code[5:]}"


def normalise_tracking_code(typed: str) -> str | None:
    """What the citizen typed (any case, spaces, O for 0) as the canonical code, or None."""
    cleaned = "".join(ch for ch in typed.upper() if ch.isalnum()).translate(_TYPO_FIXES)
    if len(cleaned) != TRACKING_CODE_LENGTH or any(ch not in _CROCKFORD for ch in cleaned):
        return None
    return f"{cleaned[:5]}-{cleaned[5:]}"


class Reporter(BaseModel):
    """Who sent the complaint. Every field is optional: a citizen may give nothing."""

    model_config = ConfigDict(frozen=True)

    name: Storable | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, description="E.164, e.g. +6281234567890")
    email: EmailAddress | None = None
    # WhatsApp since 2026: a citizen with a username may withhold the phone number; Meta then gives
    # only the business-scoped user id (BSUID), which is also the address to answer them at.
    channel_user_id: Storable | None = Field(default=None, max_length=150,
                                             description="the channel's own id for the citizen (WhatsApp BSUID)")
    username: Storable | None = Field(default=None, max_length=100,
                                      description="the citizen's public name on the channel (WhatsApp @username)")


def seal_contact(reporter: Reporter) -> str | None:
    """The ways to reach the citizen, sealed for the notifier alone (shared/contact_seal.py); None: no way."""
    if not (reporter.phone or reporter.email or reporter.channel_user_id):
        return None
    return contact_seal.seal(reporter.model_dump_json(exclude_none=True))


SEALED_CONTACT = ("the citizen's contact sealed for the notifier alone (shared/contact_seal.py); None: the citizen "
                  "gave no way to reach them")
LEGACY_CONTACT = ("events from before contacts were sealed carry the contact here in plain; from then on it is "
                  "always empty (kept so those events stay readable; drop it in v2)")


class Attachment(BaseModel):
    """A file that came with the complaint. The bytes stay with the channel; this is a reference."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["image", "document", "audio", "video", "sticker"]
    reference: Storable = Field(max_length=500,
                                description="where the channel keeps it (WhatsApp media id, web upload id)")
    mime_type: Storable | None = Field(default=None, max_length=100)
    sha256: Storable | None = Field(default=None, max_length=100)
    filename: Storable | None = Field(default=None, max_length=255)
    caption: Storable | None = Field(default=None, max_length=MAX_MESSAGE)


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: Storable | None = Field(default=None, max_length=300)
    address: Storable | None = Field(default=None, max_length=500)


class Place(BaseModel):
    """Where in the city, as the citizen gave it or named it (shared/places.py): a kelurahan of ours and its
    kecamatan, or a kecamatan alone; a street, RT/RW or landmark in their words."""

    model_config = ConfigDict(frozen=True)

    kelurahan: Storable | None = Field(default=None, max_length=100)
    kecamatan: Storable | None = Field(default=None, max_length=100)
    street: Storable | None = Field(default=None, max_length=300, description="street, RT/RW or landmark")


class Unit(BaseModel):
    """A work unit as consumers need it: carried in the event, not looked up."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    email: EmailAddress
    webhook_url: str | None = Field(default=None, description="the unit's system, notified with a signed POST")
    head_email: EmailAddress | None = Field(default=None, description="the unit's head: escalations go here")


class Envelope(BaseModel):
    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    event_type: str
    schema_version: int
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    correlation_id: Storable

    @field_validator("occurred_at")
    @classmethod
    def _must_be_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone (UTC)")
        return value.astimezone(UTC)


class ComplaintReceived(Envelope):
    """An intake accepted a complaint from a channel. Key: complaint_id."""

    event_type: Literal["complaint.received"] = "complaint.received"
    schema_version: Literal[1] = 1

    complaint_id: str
    tracking_code: str
    channel: ChannelName
    channel_message_id: Storable = Field(min_length=1, max_length=MAX_MESSAGE_ID)
    text: Storable = Field(min_length=1, max_length=5000)
    reporter: Reporter = Field(default_factory=Reporter, description="who reported, as a unit may see them: "
                               "empty when the anonymity hides the identity")
    sealed_contact: str | None = Field(default=None, description=SEALED_CONTACT)
    contact_digests: list[str] = Field(default_factory=list, max_length=2, description=(
        "contact_digest of the reporter's phone number and channel user id: a reply or a contact change is "
        "matched with these, no one downstream learns the number"))

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("complaint text is empty")
        return value
    anonymity: Anonymity = Anonymity.NONE
    received_at: datetime
    category: Storable | None = Field(default=None, description="Category the citizen chose, if any")
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    location: Location | None = None
    place: Place | None = Field(default=None, description="kelurahan/kecamatan the citizen chose, street/landmark")

    @classmethod
    def new(
        cls,
        *,
        channel: str,
        channel_message_id: str,
        text: str,
        producer: str,
        reporter: Reporter | None = None,
        anonymity: Anonymity = Anonymity.NONE,
        received_at: datetime | None = None,
        category: str | None = None,
        attachments: list[Attachment] | None = None,
        location: Location | None = None,
        place: Place | None = None,
    ) -> ComplaintReceived:
        complaint_id = complaint_id_for(channel, channel_message_id)
        reporter = reporter or Reporter()
        return cls(
            complaint_id=complaint_id,
            tracking_code=tracking_code_for(complaint_id),
            channel=channel,
            channel_message_id=_fitted_message_id(channel_message_id),
            text=text,
            # The intake seals the contact; the plain identity goes on only when the reporter allows it.
            reporter=Reporter() if anonymity.hides_identity else reporter,
            sealed_contact=seal_contact(reporter),
            contact_digests=[contact_digest(address) for address in (reporter.phone, reporter.channel_user_id)
                             if address],
            anonymity=anonymity,
            received_at=received_at or datetime.now(UTC),
            category=category,
            attachments=attachments or [],
            location=location,
            place=place,
            producer=producer,
            correlation_id=complaint_id,
        )


REPLY_GATEWAY = ("the SMS gateway the complaint came through (kannel, gammu-<name>, generic), to answer the "
                 "citizen from the number they wrote to; None for other channels")


def reply_gateway_of(channel: str, channel_message_id: str) -> str | None:
    """SMS message ids are "<gateway>:<the gateway's id>" (services/intake/sms)."""
    return channel_message_id.partition(":")[0] or None if channel == Channel.SMS else None


class ComplaintAssigned(Envelope):
    """The router decided which unit must act. Key: complaint_id.

    `reporter_for_unit` is already empty when the reporter asked for anonimity, so
    nothing downstream can show the identity to a unit by mistake. `sealed_contact`
    exists only for the notifier, to answer the citizen on their own channel.
    """

    event_type: Literal["complaint.assigned"] = "complaint.assigned"
    schema_version: Literal[1] = 1

    assignment_id: str
    sequence: int = Field(ge=1, description="1 for the first assignment, +1 per re-assignment")
    complaint_id: str
    tracking_code: str
    channel: ChannelName
    text: str
    anonymity: Anonymity
    received_at: datetime
    reporter_for_unit: Reporter | None
    sealed_contact: str | None = Field(default=None, description=SEALED_CONTACT)
    citizen_contact: Reporter = Field(default_factory=Reporter, description=LEGACY_CONTACT)
    unit: Unit
    rule_id: str = Field(description='the rule that decided; "fallback", or "manual" for a re-assignment')
    ruleset_version: str
    matched_terms: list[str]
    is_fallback: bool
    assigned_by: str = Field(default="rules", description='"rules", "operator:<name>" or "unit:<code>"')
    reason: str | None = Field(default=None, description="why a person re-assigned it")
    attachments: list[Attachment] = Field(default_factory=list)
    location: Location | None = None
    place: Place | None = Field(default=None, description="the citizen's, else the kelurahan the text names")
    reply_gateway: str | None = Field(default=None, description=REPLY_GATEWAY)
    forward_due: date | None = Field(default=None, description="verify and forward by (LAPOR!: 3 working days)")
    follow_up_due: date | None = Field(default=None, description="the unit's follow-up by (LAPOR!: 5 working days)")


def status_change_id_for(complaint_id: str, sequence: int) -> str:
    return str(uuid.uuid5(uuid.UUID(complaint_id), f"status:{sequence}"))


class ComplaintStatusChanged(Envelope):
    """A complaint moved on. Topic: complaints.status.v1, key: complaint_id.

    `message` is what the citizen is told (a response), why (not our authority), or, for
    `replied`, what the citizen wrote back (for the unit only; the status page never shows it).
    A unit's message never carries the reporter's identity.
    """

    event_type: Literal["complaint.status_changed"] = "complaint.status_changed"
    schema_version: Literal[1] = 1

    change_id: str = Field(description="deterministic from complaint and sequence: redelivery is harmless")
    sequence: int = Field(ge=1, description="per complaint, 1 for its first change, +1 for each next one")
    complaint_id: str
    tracking_code: str
    channel: ChannelName
    status: ComplaintStatus
    message: str | None = Field(default=None, max_length=MAX_MESSAGE)
    actor: str = Field(description='"unit:<code>", "operator:<name>" or "system"')
    unit: Unit = Field(description="the unit the complaint was with when it changed")
    assignment_sequence: int = Field(ge=1)
    sealed_contact: str | None = Field(default=None, description=SEALED_CONTACT)
    citizen_contact: Reporter = Field(default_factory=Reporter, description=LEGACY_CONTACT)
    reply_gateway: str | None = Field(default=None, description=REPLY_GATEWAY)
    close_due: date | None = Field(default=None, description="closes by itself on this day if the citizen is silent")
    answer_due: date | None = Field(default=None, description="replied: the unit answers the citizen again by")


class EscalationStage(StrEnum):
    FORWARD = "forward"  # not taken on (acknowledged) by forward_due
    FOLLOW_UP = "follow_up"  # not answered by follow_up_due
    REPLY = "reply"  # the citizen's reply not answered by answer_due


class ComplaintEscalated(Envelope):
    """A deadline passed: the unit's head and the PPID coordinator must hear, once per stage and assignment.

    Topic: complaints.status.v1, key: complaint_id.
    """

    event_type: Literal["complaint.escalated"] = "complaint.escalated"
    schema_version: Literal[1] = 1

    escalation_id: str = Field(description="deterministic from assignment and stage")
    complaint_id: str
    tracking_code: str
    stage: EscalationStage
    due: date
    unit: Unit
    assignment_sequence: int = Field(ge=1)
    coordinator_email: EmailAddress | None = Field(default=None, description="the PPID coordinator")


class LaporReportLinked(Envelope):
    """The complaint has its report in SP4N-LAPOR!. Topic: complaints.status.v1, key: complaint_id."""

    event_type: Literal["complaint.lapor_linked"] = "complaint.lapor_linked"
    schema_version: Literal[1] = 1

    complaint_id: str
    tracking_code: str
    lapor_tracking_id: str
    lapor_status: str


def contact_digest(address: str) -> str:
    """A phone number or BSUID as a reply carries it: the router compares it with the reporter's, no one
    else learns the number from it."""
    return hashlib.sha256(f"aduan-contact:{address}".encode()).hexdigest()


def citizen_reply_id_for(channel: str, channel_message_id: str) -> str:
    """Same channel message, same reply: a retried form or gateway call is recorded once."""
    return complaint_id_for(channel, f"reply:{channel_message_id}")


class CitizenReplied(Envelope):
    """The citizen wrote back about their complaint, after the unit's response (LAPOR!: the reply
    that keeps a complaint from closing). Published by an intake, recorded by the router.
    Topic: complaints.citizen_replies.v1, key: complaint_id. Inbound, unlike citizen.replies.v1,
    which carries what we send to citizens.
    """

    event_type: Literal["complaint.citizen_replied"] = "complaint.citizen_replied"
    schema_version: Literal[1] = 1

    reply_id: str = Field(description="deterministic from channel and the channel's message id")
    complaint_id: str
    tracking_code: str
    channel: ChannelName = Field(description="where the reply came in, not necessarily the complaint's channel")
    text: Storable = Field(min_length=1, max_length=MAX_MESSAGE)
    received_at: datetime
    sender_digest: str | None = Field(default=None, description="contact_digest of the number or BSUID a phone "
                                      "channel's reply came from: taken only from the reporter's own; None: web")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("reply text is empty")
        return value


class CitizenReplyRequested(Envelope):
    """A message the citizen must get on their channel (e.g. the SMS format help). Key: `to`.

    Published by an intake, sent by the notifier through the channel's gateway.
    """

    event_type: Literal["citizen.reply_requested"] = "citizen.reply_requested"
    schema_version: Literal[1] = 1

    reply_id: Storable = Field(description="deterministic: the same trigger never sends twice")
    channel: ChannelName
    to: str = Field(description="E.164 phone number, e-mail address, or the channel's user id (WhatsApp BSUID) "
                                "when the citizen withholds their number")
    text: str = Field(min_length=1, max_length=1600)
    reason: Literal["format_help", "acknowledgement", "status"]
    gateway: str | None = Field(default=None, description="which gateway received the trigger, to answer through it")


# The WhatsApp acknowledgement's "Cek status" reply button carries this id with the tracking code; the
# WhatsApp intake answers a tap on it with the complaint's status.
STATUS_BUTTON_PREFIX = "cek:"


class DeliveryState(StrEnum):
    """What a channel reports about a message we sent (WhatsApp: the `statuses` webhook), in the order a
    message goes: a delivery's recorded state only moves forward (services/notifier/receipts.py)."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class DeliveryReceipt(Envelope):
    """A channel's report on a message the notifier sent to a citizen. Published by the intake that
    receives the report, recorded by the notifier on its delivery. Topic: citizen.delivery_receipts.v1,
    key: message_id. Carries no citizen identity: the message id says which delivery it is."""

    event_type: Literal["citizen.delivery_receipt"] = "citizen.delivery_receipt"
    schema_version: Literal[1] = 1

    receipt_id: Storable = Field(description="deterministic from message id and state: a resent report is one receipt")
    channel: ChannelName
    message_id: Storable = Field(min_length=1, max_length=MAX_MESSAGE_ID,
                                 description="the channel's id for what we sent")
    state: DeliveryState
    at: datetime
    error_code: int | None = Field(default=None, description="the channel's error code (WhatsApp 131047: outside "
                                                             "the 24-hour window)")
    error_title: Storable | None = Field(default=None, max_length=300)


class CitizenAddress(BaseModel):
    """How a channel reaches a citizen: a phone number, the channel's user id (WhatsApp BSUID), or both."""

    model_config = ConfigDict(frozen=True)

    phone: str | None = Field(default=None, description="E.164")
    channel_user_id: Storable | None = Field(default=None, max_length=150)


class CitizenContactChanged(Envelope):
    """The channel told us a citizen's address changed (WhatsApp `user_changed_number`,
    `user_changed_user_id`): answers about their open complaints must go to the new one. Published by
    the intake, applied by the router. Topic: citizen.contact_changes.v1, key: the old address."""

    event_type: Literal["citizen.contact_changed"] = "citizen.contact_changed"
    schema_version: Literal[1] = 1

    change_id: Storable = Field(description="deterministic from the channel's message id")
    channel: ChannelName
    old: CitizenAddress
    new: CitizenAddress
    new_sealed: str | None = Field(default=None, description="the new address sealed for the notifier "
                                   "(shared/contact_seal.py): what the router puts on the citizen's complaints")
    at: datetime


class StatusEvent(RootModel[ComplaintStatusChanged | ComplaintEscalated | LaporReportLinked]):
    """Anything on complaints.status.v1, told apart by `event_type`."""

    root: Annotated[Union[ComplaintStatusChanged, ComplaintEscalated, LaporReportLinked],  # noqa: UP007
                    Field(discriminator="event_type")]
