"""Signed, expiring credentials for the unit inbox: the links in unit e-mails (the inbox's sessions are rows in
the router's database, services/router/inbox_sessions.py, so that they can be ended).

The notifier signs links, the router checks them; both hold the same secret. A token says
which unit it is for, what it opens, and until when; HMAC-SHA256 makes it unforgeable and
each purpose is signed apart, so a session cannot be passed off as a link or the other way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class Grant:
    unit: str
    subject: str  # what it opens: a tracking code for a link, "inbox" for a session
    expires_at: int  # Unix seconds


def _sign(secret: str, purpose: str, unit: str, subject: str, expires_at: int) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}\n{unit}\n{subject}\n{expires_at}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def issue(secret: str, purpose: str, unit: str, subject: str, ttl_seconds: float) -> str:
    if not secret:
        raise ValueError("no signing secret configured")
    expires_at = int(time.time() + ttl_seconds)
    return f"{unit}.{subject}.{expires_at}.{_sign(secret, purpose, unit, subject, expires_at)}"


def verify(secret: str, purpose: str, token: str, now: float | None = None) -> Grant | None:
    """The grant in a token that is genuine, for this purpose and not expired; None otherwise."""
    parts = token.split(".")
    # ASCII digits, and few: "²".isdigit() is true but int() raised on it (a 500 for a crafted link).
    if not secret or len(parts) != 4 or not re.fullmatch(r"[0-9]{1,12}", parts[2]):
        return None
    unit, subject, expires, signature = parts
    expected = _sign(secret, purpose, unit, subject, int(expires))
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
