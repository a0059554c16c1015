"""CSRF protection for the HTML form: a signed double-submit cookie.

The form carries a token in a hidden field and the same token in a SameSite=Strict cookie.
A cross-site page can make the browser post the form but can read neither, and the HMAC
signature stops a token planted through a sibling domain's cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "aduan_csrf"
FIELD = "csrf_token"


def new_token(secret: str) -> str:
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_sign(secret, nonce)}"


def is_valid(secret: str, cookie: str | None, field: str | None) -> bool:
    if not cookie or not field or not hmac.compare_digest(cookie.encode(), field.encode()):
        return False
    nonce, _, signature = field.partition(".")
    return bool(nonce) and hmac.compare_digest(signature.encode(), _sign(secret, nonce).encode())


def _sign(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]
