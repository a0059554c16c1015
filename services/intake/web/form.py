"""The HTML form: from submitted fields to a complaint, or to messages saying what to fix."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import FormData, UploadFile

from shared.channel_kit import InvalidText, clean_text
from shared.contracts import Anonymity, Attachment, Location, Place, Reporter
from shared.images import without_metadata
from shared.phone import to_e164
from shared.places import place_of

MIN_TEXT, MAX_TEXT = 10, 5000
MAX_PHOTO_BYTES = 5 * 1024 * 1024
# The photo's type is read from its first bytes, never from what the browser claims.
_SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
FIELDS = ("text", "name", "phone", "email", "anonymity", "kelurahan", "address", "latitude", "longitude")
MAX_ADDRESS = 300  # Place.street


@dataclass
class Photo:
    data: bytes
    mime_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Submission:
    values: dict[str, str]  # what was typed, to show the form again
    errors: dict[str, str] = field(default_factory=dict)
    text: str = ""
    reporter: Reporter = field(default_factory=Reporter)
    anonymity: Anonymity = Anonymity.NONE
    location: Location | None = None
    place: Place | None = None
    photo: Photo | None = None
    submission_id: str = ""

    def attachments(self, reference: str | None) -> list[Attachment]:
        """The photo as stored in the evidence store (`reference`: shared/evidence.py)."""
        if not self.photo or not reference:
            return []
        return [Attachment(kind="image", reference=reference, mime_type=self.photo.mime_type,
                           sha256=self.photo.sha256)]


def photo_type(data: bytes) -> str | None:
    for signature, mime in _SIGNATURES.items():
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def submission_id_of(form: FormData) -> str:
    """The form's own id, the same when it is sent again: the complaint or reply is taken once."""
    try:
        return str(uuid.UUID(str(form.get("submission_id") or "")))
    except ValueError:
        return str(uuid.uuid4())  # an old or hand-made form: still accepted, once


async def read_submission(form: FormData) -> Submission:
    values = {name: str(form.get(name) or "") for name in FIELDS}
    sub = Submission(values=values, submission_id=submission_id_of(form))
    try:
        sub.text = clean_text(values["text"], MAX_TEXT)
        if len(sub.text) < MIN_TEXT:
            sub.errors["text"] = f"Isi aduan terlalu pendek (paling sedikit {MIN_TEXT} karakter)."
    except InvalidText as error:
        sub.errors["text"] = str(error)
    try:
        sub.anonymity = Anonymity(values["anonymity"] or "none")
    except ValueError:
        sub.errors["anonymity"] = "Pilihan identitas tidak dikenal."
    phone = None
    if values["phone"].strip():
        phone = to_e164(values["phone"])
        if phone is None:
            sub.errors["phone"] = "Nomor telepon tidak valid."
    email = None
    if values["email"].strip():
        try:
            email = validate_email(values["email"].strip(), check_deliverability=False).normalized
        except EmailNotValidError:
            sub.errors["email"] = "Alamat e-mail tidak valid."
    name = " ".join(values["name"].split())[:200] or None
    sub.reporter = Reporter(name=name, phone=phone, email=email)
    sub.location = _location(values, sub.errors)
    sub.place = _place(values, sub.errors)
    photo = form.get("photo")
    if isinstance(photo, UploadFile) and photo.filename:
        data = await photo.read(MAX_PHOTO_BYTES + 1)
        mime = photo_type(data)
        if len(data) > MAX_PHOTO_BYTES:
            sub.errors["photo"] = f"Foto terlalu besar (paling besar {MAX_PHOTO_BYTES // (1024 * 1024)} MB)."
        elif mime is None:
            sub.errors["photo"] = "Foto harus berupa JPEG, PNG, atau WebP."
        elif (clean := await without_metadata(data, mime)) is None:
            sub.errors["photo"] = "Foto tidak dapat dibaca; kirim foto JPEG, PNG, atau WebP yang utuh."
        else:
            sub.photo = Photo(clean, mime)  # pixels only: no GPS position, device or time
    return sub


def _place(values: dict[str, str], errors: dict[str, str]) -> Place | None:
    """The kelurahan chosen from the list (its kecamatan follows) and the street or landmark typed."""
    try:
        street = clean_text(values["address"], MAX_ADDRESS) if values["address"].strip() else ""
    except InvalidText as error:
        if error.reason == "text_too_long":
            errors["address"] = f"Alamat terlalu panjang (paling banyak {MAX_ADDRESS} karakter)."
        street = ""  # nothing visible in it: as if it were empty
    place = place_of(values["kelurahan"], street)
    if values["kelurahan"] and (place is None or place.kelurahan is None):
        errors["kelurahan"] = "Kelurahan tidak dikenal; pilih dari daftar."
    return place


def _location(values: dict[str, str], errors: dict[str, str]) -> Location | None:
    """The position the browser gave ("Gunakan lokasi saya" fills two hidden fields); none without JavaScript."""
    lat, lon = values["latitude"].strip(), values["longitude"].strip()
    if not (lat or lon):
        return None
    try:
        return Location(latitude=float(lat.replace(",", ".")), longitude=float(lon.replace(",", ".")))
    except ValueError:
        errors["location"] = "Lokasi dari peramban tidak terbaca; kirim lagi tanpa lokasi, atau isi patokan."
        return None
