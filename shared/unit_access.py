"""Signed, expiring credentials for the unit inbox: the links in unit e-mails (the inbox's sessions are rows in
the router's database, services/router/http/inbox_sessions.py, so that they can be ended).

The notifier signs links, the router checks them; both hold the same secret. A token says
which unit it is for, what it opens, and until when; HMAC-SHA256 makes it unforgeable and
each purpose is signed apart, so a session cannot be passed off as a link or the other way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class Grant:
    unit: str
    subject: str  # what it opens: a tracking code for a link, "inbox" for a session
    expires_at: int  # Unix seconds


def _sign(secret: str, purpose: str, unit: str, subject: str, expires_at: int, nonce: str) -> str:
    signed = f"{purpose}\n{unit}\n{subject}\n{expires_at}" + (f"\n{nonce}" if nonce else "")
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def issue(secret: str, purpose: str, unit: str, subject: str, ttl_seconds: float) -> str:
    """`unit.subject.expires.nonce.signature`. The nonce makes every token its own: two mails about one
    complaint in the same second carried the same single-use link, and opening one spent the other."""
    if not secret:
        raise ValueError("no signing secret configured")
    expires_at, nonce = int(time.time() + ttl_seconds), secrets.token_hex(8)
    return f"{unit}.{subject}.{expires_at}.{nonce}.{_sign(secret, purpose, unit, subject, expires_at, nonce)}"


def verify(secret: str, purpose: str, token: str, now: float | None = None) -> Grant | None:
    """The grant in a token that is genuine, for this purpose and not expired; None otherwise. Tokens of before
    the nonce (four parts) are still read until they expire."""
    parts = token.split(".")
    if len(parts) == 4:
        parts.insert(3, "")
    # ASCII digits, and few: "²".isdigit() is true but int() raised on it (a 500 for a crafted link).
    if not secret or len(parts) != 5 or not re.fullmatch(r"[0-9]{1,12}", parts[2]) \
            or not re.fullmatch(r"[0-9a-f]{0,32}", parts[3]):
        return None
    unit, subject, expires, nonce, signature = parts
    expected = _sign(secret, purpose, unit, subject, int(expires), nonce)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    if int(expires) < (time.time() if now is None else now):
        return None
    return Grant(unit, subject, int(expires))


LINK = "link"
SESSION = "session"
CSRF = "csrf"


def link_url(secret: str, base_url: str, unit: str, tracking_code: str, ttl_seconds: float) -> str:
    """The inbox page of one complaint, opened without a password by whoever holds the unit's mail."""
    token = issue(secret, LINK, unit, tracking_code, ttl_seconds)
    return f"{base_url.rstrip('/')}/unit/tautan?{urlencode({'t': token})}"


def csrf_token(secret: str, session: str) -> str:
    """Bound to the session: a form posted from another site cannot carry it."""
    return hmac.new(secret.encode(), f"{CSRF}\n{session}".encode(), hashlib.sha256).hexdigest()
