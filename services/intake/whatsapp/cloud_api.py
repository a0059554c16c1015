"""The parts of the WhatsApp Business Cloud API webhook we use.

Payload shapes follow Meta's webhook reference for `messages` (text, image, document, audio,
video, sticker, location) and `statuses` notifications. Unknown fields are ignored: Meta adds
fields without notice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.channel_kit import MAX_TEXT
from shared.contracts import Attachment, Location

MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")
# The limits below are the event's (shared/contracts.py): a payload that parses always converts.
# Past them a signed payload was a 500 (and Meta's endless retries); now a 400 naming the field.
_MEDIA_PREFIX = "whatsapp-media:"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TextBody(_Lenient):
    body: str = Field(max_length=MAX_TEXT)


class Media(_Lenient):
    id: str = Field(max_length=500 - len(_MEDIA_PREFIX))
    mime_type: str | None = Field(default=None, max_length=100)
    sha256: str | None = Field(default=None, max_length=100)
    caption: str | None = Field(default=None, max_length=3000)
    filename: str | None = Field(default=None, max_length=255)


class WaLocation(_Lenient):
    latitude: float = Field(ge=-90, le=90)  # also refuses NaN and Infinity, which JSON parsing lets in
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)


class Message(_Lenient):
    id: str = Field(min_length=1)  # the wamid: Meta's retries carry the same one
    sender: str = Field(alias="from")
    timestamp: str = Field(pattern=r"^[0-9]{1,11}$")  # Unix seconds; int() and a datetime must follow
    type: str
    text: TextBody | None = None
    image: Media | None = None
    document: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    sticker: Media | None = None
    location: WaLocation | None = None

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(int(self.timestamp), UTC)

    def attachment(self) -> Attachment | None:
        media = getattr(self, self.type, None) if self.type in MEDIA_KINDS else None
        if media is None:
            return None
        return Attachment(kind=self.type, reference=f"{_MEDIA_PREFIX}{media.id}", mime_type=media.mime_type,
                          sha256=media.sha256, filename=media.filename, caption=media.caption)

    def place(self) -> Location | None:
        if self.type != "location" or self.location is None:
            return None
        loc = self.location
        return Location(latitude=loc.latitude, longitude=loc.longitude, name=loc.name, address=loc.address)

    def complaint_text(self) -> str | None:
        """What the unit reads: the text, a caption, or a short description of what came."""
        if self.type == "text" and self.text:
            return self.text.body
        if attachment := self.attachment():
            return attachment.caption or f"[{attachment.kind} tanpa keterangan]"
        if place := self.place():
            where = ", ".join(p for p in (place.name, place.address) if p)
            return f"[lokasi {place.latitude:.6f}, {place.longitude:.6f}{': ' + where if where else ''}]"
        return None  # reactions, contacts, unsupported: nothing to file


class Profile(_Lenient):
    name: str | None = Field(default=None, max_length=200)


class Contact(_Lenient):
    wa_id: str
    profile: Profile | None = None


class Value(_Lenient):
    messaging_product: str | None = None
    contacts: list[Contact] = []
    messages: list[Message] = []
    statuses: list[dict] = []  # delivery receipts: accepted and ignored


class Change(_Lenient):
    field: str
    value: Value


class Entry(_Lenient):
    id: str
    changes: list[Change] = []


class WebhookPayload(_Lenient):
    object: str
    entry: list[Entry] = []

    def messages(self) -> list[tuple[Message, Contact | None]]:
        """Every message in the payload with the sender's contact card, if Meta sent one."""
        found = []
        for entry in self.entry:
            for change in entry.changes:
                contacts = {c.wa_id: c for c in change.value.contacts}
                found.extend((m, contacts.get(m.sender)) for m in change.value.messages)
        return found
