"""STAND-IN for the WhatsApp Business Cloud API's messages endpoint, NOT Meta: nothing is delivered.

POST /{version}/{phone_number_id}/messages with `Authorization: Bearer <token>` and a body of
type "text" ({"text": {"body"}}) or "template" ({"template": {"name", "language": {"code"},
"components"}}), as Meta's Cloud API reference describes; answers like Meta:
{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid..."}]}.
Meta's rule that free text may only be sent within 24 hours of the citizen's last message is
enforced from `ADUAN_WHATSAPP_STANDIN_WINDOW_CLOSED` numbers (error 131047, as Meta answers).
Sent messages: GET /_standin/messages. Faults: standins/faults.py.
Run: python -m standins.whatsapp_cloud  (port ADUAN_WHATSAPP_STANDIN_PORT, default 8098)
"""

from __future__ import annotations

import itertools
import os

import uvicorn
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from standins import faults

TOKEN = "local-whatsapp-token"


def create_app(window_closed: set[str] | None = None) -> FastAPI:
    app = FastAPI(title="WhatsApp Cloud API STAND-IN (nothing is delivered)")
    faults.install(app, "/v")
    sent: list[dict] = []
    ids = itertools.count(1)
    closed = window_closed or set()

    @app.post("/{version}/{phone_number_id}/messages")
    async def send(version: str, phone_number_id: str, request: Request,
                   authorization: str = Header(default="")) -> JSONResponse:
        if authorization != f"Bearer {TOKEN}":
            return JSONResponse({"error": {"message": "Invalid OAuth access token.", "code": 190}}, status_code=401)
        body = await request.json()
        to, kind = body.get("to", ""), body.get("type")
        if body.get("messaging_product") != "whatsapp" or not to or kind not in ("text", "template"):
            return JSONResponse({"error": {"message": "Invalid parameter", "code": 100}}, status_code=400)
        if kind == "text" and to in closed:
            return JSONResponse({"error": {"message": "Re-engagement message", "code": 131047}}, status_code=400)
        wamid = f"wamid.STANDIN{next(ids):08d}"
        sent.append({"to": to, "type": kind, "body": body, "phone_number_id": phone_number_id, "id": wamid})
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                             "messages": [{"id": wamid}]})

    @app.get("/_standin/messages")
    async def messages() -> dict:
        return {"items": sent}

    return app


if __name__ == "__main__":
    closed_numbers = {n for n in os.environ.get("ADUAN_WHATSAPP_STANDIN_WINDOW_CLOSED", "").split(",") if n}
    uvicorn.run(create_app(closed_numbers), host="127.0.0.1",
                port=int(os.environ.get("ADUAN_WHATSAPP_STANDIN_PORT", "8098")))
