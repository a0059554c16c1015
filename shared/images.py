"""Photos as we keep and show them: pixels only, upright, bounded in size.

A photo (the web form's, a WhatsApp image or sticker) is kept without its metadata: EXIF carries the GPS
position it was taken at, the phone's make and serial, the time; XMP and comments more. For a reporter who
asked to stay anonymous that is their home address (security review, issue 14, item 10).

The photo is decoded and written again (Pillow), upright (the EXIF orientation applied to the pixels,
as the phone showed it), at most MAX_SIDE pixels on its longer side, with nothing but pixels. Decoding
is CPU work: it runs in a thread, a few at a time, so the event loop keeps answering.
"""

from __future__ import annotations

import asyncio
import io

from PIL import Image, ImageOps

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
Image.MAX_IMAGE_PIXELS = 64_000_000  # a small file can claim a huge canvas; phones take about 50 megapixels
_FORMATS = {"image/jpeg": ("JPEG", {"quality": 90}), "image/png": ("PNG", {}), "image/webp": ("WEBP", {"quality": 90})}
MAX_SIDE = 2560  # enough to read a licence plate or a receipt; a 50-megapixel original is 8,000 wide
_DECODING = asyncio.Semaphore(2)  # a service has half a core to a core; decoding is what costs it


def _without_metadata(data: bytes, mime_type: str) -> bytes | None:
    fmt, options = _FORMATS[mime_type]
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            upright = ImageOps.exif_transpose(image)  # a new image, without the source's info and EXIF
            if upright is image:
                upright = image.copy()
            upright.info.clear()
            upright.thumbnail((MAX_SIDE, MAX_SIDE))  # only ever shrinks
            if fmt == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
                upright = upright.convert("RGB")
            out = io.BytesIO()
            upright.save(out, fmt, **options)
            return out.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None  # not an image Pillow can read, or a decompression bomb


async def without_metadata(data: bytes, mime_type: str) -> bytes | None:
    """The photo without metadata, or None when it cannot be read as the image its first bytes claim."""
    async with _DECODING:
        return await asyncio.to_thread(_without_metadata, data, mime_type)


def thumbnail(data: bytes, pixels: int, quality: int = 80) -> bytes:
    """The photo fitted within pixels x pixels, as JPEG. Raises OSError when the bytes are no image."""
    with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as image:
        small = ImageOps.exif_transpose(image)
        small.thumbnail((pixels, pixels))
        if small.mode != "RGB":
            small = small.convert("RGB")
        out = io.BytesIO()
        small.save(out, "JPEG", quality=quality)  # a new image: the source's info and EXIF are not written
        return out.getvalue()
