"""A WhatsApp photo kept before Meta lets it go: the notifier fetches it from the Cloud API (the stand-in serves
media as Meta documents it: GET /{media-id} for a 5-minute URL, then GET that URL, both with the token), keeps
it without metadata in the real S3-compatible store, and the assigned unit's inbox shows it; media Meta no
longer has is a dead letter that says so."""

from __future__ import annotations

import io

import httpx
import pikepdf
import pytest

from shared.contracts import Attachment, Channel
from shared.evidence import EvidenceMissing, EvidenceSettings, EvidenceStore
from tests.integration.test_notifier import notifier as notifier  # noqa: F401  (the fixture)
from tests.integration.test_unit_inbox import routed, signed_in
from tests.integration.test_unit_inbox import router as router  # noqa: F401  (the fixture)
from tests.security.test_photos import MAKER, PLACE, _photo
from tests.support import events
from tests.support.kafka import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def with_media(whatsapp_standin, data: bytes, mime: str) -> str:
    async with httpx.AsyncClient(base_url=whatsapp_standin.url) as meta:
        answer = await meta.post("/_standin/media", content=data, headers={"Content-Type": mime})
    return answer.json()["id"]


def whatsapp_complaint(text: str, media_id: str):
    received = events.received(text, channel=Channel.WHATSAPP)
    photo = Attachment(kind="image", reference=f"whatsapp-media:{media_id}", mime_type="image/jpeg",
                       caption="foto jalannya")
    return received.model_copy(update={"attachments": [photo]})


async def stored(reference: str, complaint_id: str) -> bytes | None:
    async with EvidenceStore(EvidenceSettings()) as store:
        try:
            return (await store.get(reference, complaint_id)).data
        except EvidenceMissing:
            return None


async def test_a_whatsapp_photo_is_kept_without_metadata_and_shown_to_its_unit(  # noqa: F811
        notifier, router, whatsapp_standin, infra, topics):
    sent = _photo("JPEG")  # the maker, a GPS position and a comment, as a phone writes them
    media_id = await with_media(whatsapp_standin, sent, "image/jpeg")
    received = whatsapp_complaint("SURGA mohon bantuan hukum soal sengketa batas tanah dengan tetangga", media_id)
    assigned = (await routed(infra, topics, received))[received.complaint_id]
    assert assigned["unit"]["code"] == "hukum"
    reference = assigned["attachments"][0]["reference"]
    kept = await eventually(lambda: stored(reference, received.complaint_id), timeout=60,
                            what="the notifier keeping the WhatsApp photo")
    assert MAKER.encode() not in kept and PLACE not in kept and b"Exif" not in kept and kept[:3] == b"\xff\xd8\xff"
    async with signed_in(router, "hukum") as hukum:
        page = (await hukum.get(f"/unit/aduan/{received.tracking_code}")).text
        photo = await hukum.get(f"/unit/aduan/{received.tracking_code}/lampiran/0")
    assert f"/unit/aduan/{received.tracking_code}/lampiran/0?ukuran=kecil" in page and "foto jalannya" in page
    assert photo.status_code == 200 and photo.content == kept
    async with signed_in(router, "bppkad") as bppkad:
        assert (await bppkad.get(f"/unit/aduan/{received.tracking_code}/lampiran/0")).status_code == 404


async def test_media_meta_no_longer_has_is_a_dead_letter_that_says_so(notifier, whatsapp_standin, infra, topics,  # noqa: F811
                                                                      db):
    media_id = await with_media(whatsapp_standin, _photo("JPEG"), "image/jpeg")
    async with httpx.AsyncClient(base_url=whatsapp_standin.url) as meta:
        assert (await meta.delete(f"/_standin/media/{media_id}")).json() == {"deleted": True}
    received = whatsapp_complaint("Lampu jalan mati di depan rumah sejak seminggu", media_id)
    assigned = events.assignment_for(received)
    from tests.support.kafka import publish_events
    await publish_events(infra.kafka_bootstrap, topics.assigned, [assigned])
    key = f"whatsapp_media:{received.complaint_id}:{media_id}"
    error = await eventually(lambda: db.fetchval(
        "SELECT last_error FROM notifier.jobs WHERE job_key = $1 AND status = 'dead'", key), timeout=60,
        what="the media job given up")
    assert f"Meta no longer has media {media_id}" in error
    assert await stored(assigned.attachments[0].reference, received.complaint_id) is None


async def test_a_whatsapp_document_reaches_its_unit_without_its_author(notifier, router, whatsapp_standin,  # noqa: F811
                                                                       infra, topics):
    from tests.security.test_documents import AUTHOR, _pdf
    sent = _pdf(compress_streams=False)
    assert AUTHOR.encode() in sent
    media_id = await with_media(whatsapp_standin, sent, "application/pdf")
    received = events.received("SURGA mohon bantuan hukum, surat perjanjian sewa terlampir", channel=Channel.WHATSAPP)
    received = received.model_copy(update={"attachments": [Attachment(
        kind="document", reference=f"whatsapp-media:{media_id}", mime_type="application/pdf", caption="perjanjian")]})
    assigned = (await routed(infra, topics, received))[received.complaint_id]
    reference = assigned["attachments"][0]["reference"]
    kept = await eventually(lambda: stored(reference, received.complaint_id), timeout=60,
                            what="the notifier keeping the WhatsApp document")
    assert kept.startswith(b"%PDF-") and AUTHOR.encode() not in kept
    with pikepdf.open(io.BytesIO(kept)) as pdf:
        assert pdf.pages[0].Contents.read_bytes().endswith(b"(Jalan berlubang) Tj ET")
    async with signed_in(router, assigned["unit"]["code"]) as unit:
        page = (await unit.get(f"/unit/aduan/{received.tracking_code}")).text
        download = await unit.get(f"/unit/aduan/{received.tracking_code}/lampiran/0")
    assert "Unduh berkas 1 (document)" in page
    assert download.status_code == 200 and download.content == kept
    assert download.headers["content-type"].startswith("application/pdf")
