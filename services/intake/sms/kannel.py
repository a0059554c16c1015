"""Kannel's sms-service calling us per inbound SMS: `get-url` (GET, what we recommend) or `post-url` (POST).

The configuration we give the city is deploy/gateways/kannel/kannel.conf.template; its get-url:

    /kannel/inbound?key=<ADUAN_SMS_KANNEL_SECRET>&id=%I&sender=%p&receiver=%P&time=%t&coding=%c&charset=%C&udh=%u&text=%b

%b is the exact text (%a splits it into words: line breaks and double spaces were lost), UTF-8
with `mo-recode = true`; a `charset` other than UTF-8 (mo-recode forgotten: UTF-16BE) is decoded
as such. %t is UTC whatever the host's TZ says. %u is empty but for a part of a long SMS that
bearerbox could not join. For post-url the text is the body in the charset of its Content-Type,
and the numbers come as query parameters or X-Kannel-From (only with `send-sender = true`) and
X-Kannel-To. docs/sms-gateways.md has the rest.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import Request

from services.intake.sms.inbound import InboundSms, fallback_message_id, part_number
from shared.channel_kit import InvalidText

GATEWAY = "kannel"


def authenticated(secret: str, key: str | None) -> str | None:
    """None when the call carries our secret (`key=` in the get-url Kannel was given), else the reason."""
    if not secret:
        return "kannel_secret_not_set"  # fail closed: an open endpoint lets anyone spend the city's SMS
    if not key:
        return "missing_key"
    return None if secrets.compare_digest(key.encode(), secret.encode()) else "bad_key"


def _time(value: str | None, zone: ZoneInfo) -> datetime | None:
    """Kannel's %t (and X-Kannel-Time) is "YYYY-MM-DD HH:MM:SS" in UTC, whatever the host's TZ says."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("+", " ")).replace(tzinfo=zone)
    except ValueError:
        return None


def _charset(request: Request) -> str | None:
    """post-url: Kannel names the charset in Content-Type (`text/plain; charset="UTF-16BE"` for a UCS-2
    SMS without mo-recode); X-Kannel-Charset is the older header some setups still send."""
    content_type = request.headers.get("content-type", "")
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"'):
            return value.strip().strip('"')
    return request.headers.get("x-kannel-charset")


def _decoded(body: bytes, charset: str | None) -> str:
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except (LookupError, UnicodeError):
            pass  # a charset Python does not know, or not a text codec ("hex"): read it as below
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")  # cannot fail, and keeps the message


def _raw_param(request: Request, name: str, encoding: str) -> str | None:
    """A query parameter whose percent-escapes are bytes in `encoding` (not UTF-8, as Starlette reads them)."""
    values = parse_qs(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True,
                      encoding=encoding, errors="replace").get(name)
    return values[0] if values else None


def _udh(request: Request) -> bytes:
    """%u: the UDH's bytes, URL-encoded."""
    return (_raw_param(request, "udh", "latin-1") or "").encode("latin-1")


def _query_text(request: Request) -> str | None:
    """%b in the charset Kannel names in %C: UTF-8 after mo-recode, UTF-16BE (or Latin-1 for 8-bit
    data) without it, which read as UTF-8 was mojibake."""
    charset = request.query_params.get("charset") or "UTF-8"
    if charset.upper().replace("_", "-") in ("UTF-8", "UTF8"):
        return request.query_params.get("text")
    try:
        return _raw_param(request, "text", charset)
    except LookupError:  # a charset Python does not know
        return request.query_params.get("text")


async def parse(request: Request, zone: ZoneInfo) -> InboundSms:
    params = request.query_params
    if request.method == "POST":
        text = _decoded(await request.body(), _charset(request))
        sender = params.get("sender") or request.headers.get("x-kannel-from")
        receiver = params.get("receiver") or request.headers.get("x-kannel-to")
        sent_at = params.get("time") or request.headers.get("x-kannel-time")
    else:
        text, sender, receiver, sent_at = (_query_text(request), params.get("sender"),
                                           params.get("receiver"), params.get("time"))
    if not sender:
        raise InvalidText("missing_sender", "Kannel did not send the sender (%p).")
    if text is None:
        raise InvalidText("missing_text", "Kannel did not send the text (%b).")
    message_id = params.get("id") or fallback_message_id(GATEWAY, sender, sent_at or "", text)
    return InboundSms(gateway=GATEWAY, message_id=message_id, sender=sender, receiver=receiver,
                      text=text, received_at=_time(sent_at, zone), later_part=part_number(_udh(request)) > 1)
