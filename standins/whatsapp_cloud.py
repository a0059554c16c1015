"""STAND-IN for the WhatsApp Business Cloud API's messages endpoint, NOT Meta: nothing is delivered.

What it checks and answers follows Meta's Cloud API reference ("Send messages", "Interactive reply
buttons messages", "Business-scoped user IDs"; docs/whatsapp.md names the pages):

- POST /{version}/{phone_number_id}/messages, `Authorization: Bearer <token>` (else 401, code 190);
  `messaging_product: whatsapp`, `recipient_type` individual (or absent); the citizen in `to` (a phone
  number, digits) or `recipient` (a business-scoped user id, BSUID); both: `to` wins, as Meta says.
- type "text" ({"text": {"body"}}), "template" ({"template": {"name", "language": {"code"}}}) or
  "interactive" with reply buttons (1 to 3, title 1-20 characters, id up to 256, body up to 1,024);
  anything else 400 (code 100, "Invalid parameter"), as Meta answers a malformed request.
- The answer: {"messaging_product", "contacts": [{"input", "wa_id"}] (or "user_id" for a BSUID),
  "messages": [{"id": "wamid..."}]}.
- A BSUID in `to` is answered 200 and never delivered, as integrators report Meta does: the record
  says `"dropped": true`, so a test can see the mistake that the real API hides.
- The 24-hour rule, as Meta applies it: free text or an interactive message to a citizen whose
  window has closed (`ADUAN_WHATSAPP_STANDIN_WINDOW_CLOSED`, numbers or BSUIDs) is accepted (200),
  then reported failed with error 131047 in a signed `statuses` webhook to
  `ADUAN_WHATSAPP_STANDIN_WEBHOOK_URL` (signed with `ADUAN_WHATSAPP_STANDIN_APP_SECRET`); other
  messages are reported `sent`. With no webhook URL, no statuses are sent.

Media a citizen sent, as Meta serves it ("Media" reference: retrieve media URL, download media):
- GET /{version}/{media_id} with the bearer token: {"messaging_product", "url", "mime_type", "sha256" (hex),
  "file_size" (a string, as Meta gives it), "id"}; an unknown or expired id: 404 (error code 100).
- GET that url with the bearer token: the bytes, with their Content-Type. Meta's url lives 5 minutes; so
  does this one (then 404). Without the token: 401.
A test puts media in with POST /_standin/media (body: the bytes, Content-Type: their type) -> {"id"}, and
makes it expire with DELETE /_standin/media/{id}.

Sent messages: GET /_standin/messages; webhooks it sent: GET /_standin/webhooks. Faults: standins/faults.py.
Run: python -m standins.whatsapp_cloud  (port ADUAN_WHATSAPP_STANDIN_PORT, default 8098)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import re
import secrets
import time

import httpx
import uvicorn
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response

from standins import faults

TOKEN = "local-whatsapp-token"
BSUID = re.compile(r"^[A-Za-z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
WINDOW_CLOSED_ERROR = {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
                       "error_data": {"details": "Message failed to send because more than 24 hours have passed "
                                                 "since the customer last replied to this number."}}


def _invalid(detail: str) -> JSONResponse:
    return JSONResponse({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                                   "error_data": {"details": detail}}}, status_code=400)


def _problem(body: dict) -> str | None:
    """What Meta would refuse in this request, or None."""
    kind = body.get("type")
    if kind == "text":
        text = body.get("text") or {}
        return None if isinstance(text.get("body"), str) and 0 < len(text["body"]) <= 4096 else "text.body"
    if kind == "template":
        template = body.get("template") or {}
        ok = isinstance(template.get("name"), str) and isinstance((template.get("language") or {}).get("code"), str)
        return None if ok else "template.name and template.language.code are required"
    if kind == "interactive":
        interactive = body.get("interactive") or {}
        buttons = ((interactive.get("action") or {}).get("buttons")) or []
        body_text = (interactive.get("body") or {}).get("text", "")
        if interactive.get("type") != "button" or not isinstance(body_text, str) or not 0 < len(body_text) <= 1024:
            return "interactive.type button with a body.text of 1 to 1024 characters"
        if not 1 <= len(buttons) <= 3:
            return "interactive.action.buttons: 1 to 3 buttons"
        for button in buttons:
            reply = button.get("reply") or {}
            title, button_id = reply.get("title", ""), reply.get("id", "")
            if button.get("type") != "reply" or not 0 < len(title) <= 20 or not 0 < len(button_id) <= 256:
                return "a reply button needs a title of 1-20 characters and an id of 1-256 characters"
        return None
    return f"type {kind!r} is not one this stand-in knows"


def create_app(window_closed: set[str] | None = None, webhook_url: str | None = None,
               app_secret: str = "local-app-secret") -> FastAPI:
    app = FastAPI(title="WhatsApp Cloud API STAND-IN (nothing is delivered)")
    faults.install(app, "/v")
    sent: list[dict] = []
    webhooks: list[dict] = []
    ids = itertools.count(1)
    closed = window_closed or set()
    reports: set[asyncio.Task] = set()

    async def report(wamid: str, address: dict, phone_number_id: str, failed: bool) -> None:
        """A `statuses` webhook, signed with the app secret, as Meta sends one for each message."""
        status = {"id": wamid, "status": "failed" if failed else "sent", "timestamp": str(int(time.time())),
                  **({"recipient_id": address["to"]} if "to" in address else
                     {"recipient_user_id": address["recipient"]})}
        if failed:
            status["errors"] = [WINDOW_CLOSED_ERROR]
        value = {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": "6281100001708", "phone_number_id": phone_number_id},
                 "statuses": [status]}
        payload = json.dumps({"object": "whatsapp_business_account", "entry": [
            {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]}).encode()
        signature = "sha256=" + hmac.new(app_secret.encode(), payload, hashlib.sha256).hexdigest()
        await asyncio.sleep(0.2)  # after our answer, as Meta's webhook comes after its API response
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(20):  # Meta retries a webhook that is not answered 200
                try:
                    answer = await client.post(webhook_url, content=payload, headers={
                        "Content-Type": "application/json", "X-Hub-Signature-256": signature})
                    webhooks.append({"status": status, "answer": answer.status_code})
                    if answer.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1)

    @app.post("/{version}/{phone_number_id}/messages")
    async def send(version: str, phone_number_id: str, request: Request,
                   authorization: str = Header(default="")) -> JSONResponse:
        if authorization != f"Bearer {TOKEN}":
            return JSONResponse({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                           "code": 190}}, status_code=401)
        body = await request.json()
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return _invalid("messaging_product must be whatsapp")
        if body.get("recipient_type", "individual") not in ("individual", "group"):
            return _invalid("recipient_type must be individual or group")
        to, recipient = body.get("to"), body.get("recipient")
        if to:  # Meta: when both are given, `to` takes precedence
            address, contact = {"to": str(to)}, {"input": str(to), "wa_id": str(to)}
        elif isinstance(recipient, str) and BSUID.match(recipient):
            address, contact = {"recipient": recipient}, {"input": recipient, "user_id": recipient}
        else:
            return _invalid("to (a phone number) or recipient (a business-scoped user id) is required")
        if problem := _problem(body):
            return _invalid(problem)
        who = address.get("to") or address["recipient"]
        wamid = f"wamid.STANDIN{next(ids):08d}"
        failed = body["type"] != "template" and who in closed
        sent.append({**address, "type": body["type"], "body": body, "phone_number_id": phone_number_id,
                     "id": wamid, "dropped": bool(to and BSUID.match(str(to))), "failed": failed})
        if webhook_url:
            task = asyncio.create_task(report(wamid, address, phone_number_id, failed))
            reports.add(task)
            task.add_done_callback(reports.discard)
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]})

    @app.get("/_standin/messages")
    async def messages() -> dict:
        return {"items": sent}

    @app.get("/_standin/webhooks")
    async def sent_webhooks() -> dict:
        return {"items": webhooks}

    media: dict[str, tuple[bytes, str]] = {}
    urls: dict[str, tuple[str, float]] = {}  # download token -> (media id, expiry)

    @app.post("/_standin/media")
    async def put_media(request: Request) -> dict:
        media_id = str(1_000_000_000_000_000 + next(ids))
        media[media_id] = (await request.body(), request.headers.get("content-type", "application/octet-stream"))
        return {"id": media_id}

    @app.delete("/_standin/media/{media_id}")
    async def expire_media(media_id: str) -> dict:
        return {"deleted": media.pop(media_id, None) is not None}

    @app.get("/_media/{token}")
    async def download(token: str, authorization: str = Header(default="")) -> Response:
        if authorization != f"Bearer {TOKEN}":
            return _unauthorised()
        media_id, expires = urls.get(token, ("", 0.0))
        if time.monotonic() > expires or media_id not in media:
            return JSONResponse({"error": {"message": "URL expired or not found", "code": 100}}, status_code=404)
        data, mime = media[media_id]
        return Response(data, media_type=mime)

    @app.get("/{version}/{media_id}")  # after /_standin/...: the first route that matches answers
    async def media_url(version: str, media_id: str, request: Request,
                        authorization: str = Header(default="")) -> JSONResponse:
        if authorization != f"Bearer {TOKEN}":
            return _unauthorised()
        if media_id not in media:
            return JSONResponse({"error": {"message": "Unsupported get request. Object with ID '" + media_id +
                                           "' does not exist", "type": "GraphMethodException", "code": 100}},
                                status_code=404)
        data, mime = media[media_id]
        token = secrets.token_urlsafe(16)
        urls[token] = (media_id, time.monotonic() + 300)
        return JSONResponse({"messaging_product": "whatsapp", "url": str(request.base_url) + f"_media/{token}",
                             "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(),
                             "file_size": str(len(data)), "id": media_id})

    return app


def _unauthorised() -> JSONResponse:
    return JSONResponse({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}},
                        status_code=401)


if __name__ == "__main__":
    closed_addresses = {n for n in os.environ.get("ADUAN_WHATSAPP_STANDIN_WINDOW_CLOSED", "").split(",") if n}
    uvicorn.run(create_app(closed_addresses, os.environ.get("ADUAN_WHATSAPP_STANDIN_WEBHOOK_URL") or None,
                           os.environ.get("ADUAN_WHATSAPP_STANDIN_APP_SECRET", "local-app-secret")),
                host="127.0.0.1", port=int(os.environ.get("ADUAN_WHATSAPP_STANDIN_PORT", "8098")))
