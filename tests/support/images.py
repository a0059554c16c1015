"""Real images for tests: the web intake decodes every photo (to write it again without metadata)."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int = 8, height: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 120, 120)).save(out, "PNG")
    return out.getvalue()
