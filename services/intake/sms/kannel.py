"""Kannel's sms-service, calling us per inbound SMS with `get-url` (GET) or `post-url` (POST).

Configure Kannel (smsbox) with, for example:

    group = sms-service
    keyword = default
    get-url = "http://aduan-sms:8081/kannel/inbound?id=%I&sender=%p&receiver=%P&time=%t&text=%a"
    max-messages = 0        # the answer body is not an SMS: replies come from the notifier
    catch-all = true

For `post-url` the text is the body and the numbers come in X-Kannel-From / X-Kannel-To
headers (or the same query parameters). Escapes: %I message id, %p sender, %P receiver,
%t time, %a the whole text.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request

from services.intake.sms.inbound import InboundSms, fallback_message_id
from shared.channel_kit import InvalidText

GATEWAY = "kannel"


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


async def parse(request: Request, zone: ZoneInfo) -> InboundSms:
    params = request.query_params
    if request.method == "POST":
        text = _decoded(await request.body(), _charset(request))
        sender = params.get("sender") or request.headers.get("x-kannel-from")
        receiver = params.get("receiver") or request.headers.get("x-kannel-to")
        sent_at = params.get("time") or request.headers.get("x-kannel-time")
    else:
        text, sender, receiver, sent_at = (params.get("text"), params.get("sender"),
                                           params.get("receiver"), params.get("time"))
    if not sender:
        raise InvalidText("missing_sender", "Kannel did not send the sender (%p).")
    if text is None:
        raise InvalidText("missing_text", "Kannel did not send the text (%a).")
    message_id = params.get("id") or fallback_message_id(GATEWAY, sender, sent_at or "", text)
    return InboundSms(gateway=GATEWAY, message_id=message_id, sender=sender, receiver=receiver,
                      text=text, received_at=_time(sent_at, zone))
