"""Security review, issue 14, item 10: photos from the web form.

EXIF was stored as sent: the GPS position a phone writes into every photo is, for a reporter who asked to
stay anonymous, often their home. Photos are now written again, upright, with pixels only.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from shared.images import without_metadata

MAKER, PLACE = "PhoneMaker-SN-8841207", b"-7.8166,112.0111"


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = MAKER  # make
    exif[0x0112] = 6  # orientation: the phone was held upright, the pixels lie on their side
    exif[0x8825] = {1: "S", 2: (7.0, 49.0, 0.0), 3: "E", 4: (112.0, 0.0, 40.0)}  # GPS
    return exif.tobytes()


def _photo(fmt: str) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    if fmt == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Location", PLACE.decode())
        image.save(out, fmt, exif=_exif(), pnginfo=text)
    else:
        image.save(out, fmt, exif=_exif(), **({"comment": PLACE} if fmt == "JPEG" else {}))
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
async def test_a_photo_is_kept_upright_with_no_position_device_or_text(fmt, mime):
    sent = _photo(fmt)
    assert MAKER.encode() in sent  # what phones send
    kept = await without_metadata(sent, mime)
    assert kept is not None and MAKER.encode() not in kept and PLACE not in kept and b"Exif" not in kept
    with Image.open(io.BytesIO(kept)) as image:
        assert image.format == fmt and image.size == (30, 40)  # turned as the phone showed it
        assert not image.getexif()


@pytest.mark.parametrize("data", [b"\xff\xd8\xff" + b"\x00" * 100, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100])
async def test_what_only_starts_like_an_image_is_refused(data):
    assert await without_metadata(data, "image/jpeg" if data[0] == 0xFF else "image/png") is None


async def test_a_decompression_bomb_is_refused():
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")  # 400 megapixels in a few kilobytes
    assert len(out.getvalue()) < 200_000
    assert await without_metadata(out.getvalue(), "image/png") is None


@pytest.mark.kafka
@pytest.mark.postgres
async def test_forms_past_the_bound_are_told_to_come_back_not_spooled(infra, database_url, monkeypatch):
    """Each form with a photo spools up to 6 MB to /tmp (64 MiB in Kubernetes) until it is answered: more
    at once filled it and every upload failed. One at a time here; the second waits, then hears 503."""
    import asyncio
    import uuid

    import httpx

    from services.intake.web import pages
    from services.intake.web.app import build_app
    from services.intake.web.settings import WebSettings
    from shared.settings import DatabaseSettings, KafkaSettings

    monkeypatch.setattr(pages, "FORM_WAIT_SECONDS", 0.5)
    app = build_app(WebSettings(
        kafka=KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, topic_prefix=f"p{uuid.uuid4().hex[:6]}."),
        db=DatabaseSettings(url=database_url), concurrent_forms=1, submissions_burst=100))
    release, reading = asyncio.Event(), asyncio.Event()

    async def slow_body():  # a phone on a bad line, half-way through its photo
        yield b"--x\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nlampu mati\r\n"
        reading.set()  # the intake took the first part and asks for more: the form is being read
        await release.wait()
        yield b"--x--\r\n"

    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://web") as client:
            first = asyncio.create_task(client.post("/aduan", content=slow_body(), headers=headers))
            await asyncio.wait_for(reading.wait(), timeout=10)
            second = await client.post("/aduan", content=b"--x--\r\n", headers=headers)
            release.set()
            await first
    assert second.status_code == 503 and second.headers["retry-after"]
