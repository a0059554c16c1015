"""STAND-IN for the SMS gateways' send interfaces, NOT a real gateway: nothing reaches a phone.

- Kannel `sendsms` (smsbox's HTTP interface): GET /cgi-bin/sendsms?username=&password=&from=&to=&text=
  answers 202 "0: Accepted for delivery", 403 for bad credentials, 400 without `to`/`text`.
- A generic HTTP gateway: POST /api/v1/messages {"to", "text", "reference"} signed with
  X-Signature (HMAC-SHA256 of "<X-Timestamp>.<body>"); a repeated reference is accepted once.
Sent messages are listed at GET /_standin/messages. Faults: standins/faults.py.
Run: python -m standins.sms_gateway  (port ADUAN_SMS_STANDIN_PORT, default 13013)
"""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from shared.channel_kit import signature_is_valid
from standins import faults

KANNEL_USER, KANNEL_PASSWORD = "aduan", "local-kannel-password"
GENERIC_SECRET = "local-sms-gateway-secret"


def create_app() -> FastAPI:
    app = FastAPI(title="SMS gateway STAND-IN (nothing is sent)")
    faults.install(app, "/cgi-bin/", "/api/")
    sent: list[dict] = []
    references: set[str] = set()

    @app.get("/cgi-bin/sendsms", response_class=PlainTextResponse)
    async def kannel_sendsms(request: Request) -> PlainTextResponse:
        q = request.query_params
        if (q.get("username"), q.get("password")) != (KANNEL_USER, KANNEL_PASSWORD):
            return PlainTextResponse("Authorization failed for sendsms", status_code=403)
        if not q.get("to") or not q.get("text"):
            return PlainTextResponse("Missing receiver number or text", status_code=400)
        sent.append({"gateway": "kannel", "to": q["to"], "from": q.get("from"), "text": q["text"]})
        return PlainTextResponse("0: Accepted for delivery", status_code=202)

    @app.post("/api/v1/messages")
    async def generic_send(request: Request) -> JSONResponse:
        raw = await request.body()
        timestamp = request.headers.get("x-timestamp", "")
        if not signature_is_valid(GENERIC_SECRET, timestamp.encode() + b"." + raw, request.headers.get("x-signature")):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        body = await request.json()
        if body.get("reference") in references:
            return JSONResponse({"status": "duplicate", "reference": body["reference"]}, status_code=200)
        references.add(body.get("reference"))
        sent.append({"gateway": "generic", "to": body["to"], "text": body["text"], "reference": body.get("reference")})
        return JSONResponse({"status": "queued", "reference": body.get("reference")}, status_code=202)

    @app.get("/_standin/messages")
    async def messages() -> dict:
        return {"items": sent}

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("ADUAN_SMS_STANDIN_PORT", "13013")))
