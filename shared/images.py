"""Photos made smaller for a screen or a mail: upright, pixels only (no EXIF, XMP or comments), JPEG."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
Image.MAX_IMAGE_PIXELS = 64_000_000  # a small file can claim a huge canvas; phones take about 50 megapixels


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
