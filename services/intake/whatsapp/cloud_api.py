"""The WhatsApp Business Cloud API webhook as Meta sends it in 2026, and the parts of it we use.

Written from Meta's webhook reference (`messages`, its per-type pages, `system`, `status`, `group`,
`errors`) and its "Business-scoped user IDs" page; docs/whatsapp.md lists the sources. What changed
in 2026: every message names its sender by a business-scoped user id (BSUID, `from_user_id`,
contact `user_id`, e.g. "ID.13491208655302741918"), and a citizen who adopted a username may
withhold the phone number: `from` and the contact's `wa_id` are then absent, `profile.username`
is present.

Parsing is in two steps, so one odd message never costs the others in the same webhook: the
envelope (`Webhook`) must be understood or the whole POST is refused; each message, contact card
and status is then read on its own (`Message`, `Contact`, `Status`) and what cannot be read is
set aside with the reason. Unknown fields are ignored: Meta adds fields without notice.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shared.channel_kit import MAX_TEXT
from shared.contracts import MAX_MESSAGE, Attachment, Location
from shared.evidence import WHATSAPP_PREFIX

MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")
# The limits below are the event's (shared/contracts.py): a message that parses always converts.
MEDIA_PREFIX = WHATSAPP_PREFIX  # the notifier fetches the media into the evidence store (shared/evidence.py)
# "<two-letter country code>.[ENT.]<up to 128 alphanumerics>" (Meta's BSUID page; parents carry ENT).
BSUID = re.compile(r"^[A-Za-z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
_PHONE = re.compile(r"^[0-9]{6,15}$")  # Meta sends numbers as digits without "+"


def _phone_digits(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError("not a phone number of digits")
    return value


def _bsuid(value: str) -> str:
    if not BSUID.match(value):
        raise ValueError("not a business-scoped user id")
    return value


PhoneDigits = Annotated[str, AfterValidator(_phone_digits)]
Bsuid = Annotated[str, AfterValidator(_bsuid)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TextBody(_Lenient):
    body: str = Field(max_length=MAX_TEXT)


class Media(_Lenient):
    id: str = Field(min_length=1, max_length=500 - len(MEDIA_PREFIX))
    mime_type: str | None = Field(default=None, max_length=100)
    sha256: str | None = Field(default=None, max_length=100)
    caption: str | None = Field(default=None, max_length=MAX_MESSAGE)
    filename: str | None = Field(default=None, max_length=255)
    voice: bool = False  # audio: a voice note recorded in the chat, not a forwarded file


class WaLocation(_Lenient):
    latitude: float = Field(ge=-90, le=90)  # also refuses NaN and Infinity, which JSON parsing lets in
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)


class Reply(_Lenient):
    """A tapped reply button or list row: the id is the one we sent with it."""

    id: str = Field(default="", max_length=256)
    title: str | None = Field(default=None, max_length=200)


class Interactive(_Lenient):
    type: str  # button_reply, list_reply, nfm_reply (a finished Flow)
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class QuickReply(_Lenient):
    """`type: button`: a quick-reply button of a template message; `payload` is the one we set."""

    payload: str | None = Field(default=None, max_length=1000)
    text: str | None = Field(default=None, max_length=200)


class System(_Lenient):
    """`user_changed_number` (new `wa_id`, `new_wa_id` before Graph v12) and `user_changed_user_id`."""

    type: str | None = None
    wa_id: str | None = None
    new_wa_id: str | None = None
    user_id: str | None = Field(default=None, max_length=150)


class Message(_Lenient):
    id: str = Field(min_length=1, max_length=1000)  # the wamid: Meta's retries carry the same one
    sender_phone: PhoneDigits | None = Field(default=None, alias="from")  # absent for a citizen with a username
    sender_user_id: Bsuid | None = Field(default=None, alias="from_user_id")
    group_id: str | None = None
    timestamp: str = Field(pattern=r"^[0-9]{1,11}$")  # Unix seconds; int() and a datetime must follow
    type: str = Field(min_length=1, max_length=50)
    text: TextBody | None = None
    image: Media | None = None
    document: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    sticker: Media | None = None
    location: WaLocation | None = None
    interactive: Interactive | None = None
    button: QuickReply | None = None
    system: System | None = None

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(int(self.timestamp), UTC)

    def attachment(self) -> Attachment | None:
        media = getattr(self, self.type, None) if self.type in MEDIA_KINDS else None
        if media is None:
            return None
        return Attachment(kind=self.type, reference=f"{MEDIA_PREFIX}{media.id}", mime_type=media.mime_type,
                          sha256=media.sha256, filename=media.filename, caption=media.caption)

    def place(self) -> Location | None:
        if self.type != "location" or self.location is None:
            return None
        loc = self.location
        return Location(latitude=loc.latitude, longitude=loc.longitude, name=loc.name, address=loc.address)

    def reply_id(self) -> str | None:
        """The id we gave the button or row the citizen tapped."""
        if self.type == "interactive" and self.interactive:
            chosen = self.interactive.button_reply or self.interactive.list_reply
            return chosen.id if chosen else None
        if self.type == "button" and self.button:
            return self.button.payload
        return None


class Profile(_Lenient):
    name: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=100)


class Contact(_Lenient):
    """The sender's card. Since 2026 `user_id` (BSUID) is always there and `wa_id` only while the citizen
    shows their number."""

    wa_id: PhoneDigits | None = None
    user_id: Bsuid | None = None
    profile: Profile | None = None


class StatusError(_Lenient):
    code: int | None = None
    title: str | None = Field(default=None, max_length=300)


class Status(_Lenient):
    """What Meta reports on a message we sent. A failed one has `errors` and no contact card."""

    id: str = Field(min_length=1, max_length=200)
    status: str = Field(max_length=50)
    timestamp: str | None = Field(default=None, pattern=r"^[0-9]{1,11}$")
    errors: list[StatusError] = []

    @property
    def at(self) -> datetime:
        """When Meta says it happened; when we heard, should a status ever come without its time."""
        return datetime.fromtimestamp(int(self.timestamp), UTC) if self.timestamp else datetime.now(UTC)


class Value(_Lenient):
    """One change's value, each list still raw: its items are read one by one."""

    contacts: list[Any] = []
    messages: list[Any] = []
    statuses: list[Any] = []
    errors: list[Any] = []  # account- or system-level problems Meta reports

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, dict):  # `"messages": null` reads as none, not as a refusal of the change
            return {k: (v if v is not None else []) for k, v in data.items()}
        return data


class Change(_Lenient):
    field: str
    value: Any = None  # read by `Value` per change: one unreadable change costs only itself


class Entry(_Lenient):
    id: str
    changes: list[Change] = []


class Webhook(_Lenient):
    """The envelope: refused as a whole (400) only when it is not a WhatsApp webhook at all."""

    object: str
    entry: list[Entry] = Field(default=[], max_length=10_000)
