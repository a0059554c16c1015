"""STAND-IN for a commercial HTTP SMS gateway's send interface, NOT a real gateway: nothing reaches a phone.

Kannel and Gammu SMSD are real programs and the stack runs them (deploy/local/kannel.sh, gammu.sh);
this stands in only for the "generic" gateway of services/notifier/outbound.py, a provider's
signed JSON API of which no program can be had:
    POST /api/v1/messages {"to", "text", "reference"} signed with X-Signature (HMAC-SHA256 of
    "<X-Timestamp>.<body>"); a repeated reference is accepted once.
Sent messages are listed at GET /_standin/messages. Faults: standins/faults.py.
Run: python -m standins.sms_gateway  (port ADUAN_SMS_STANDIN_PORT, default 13090)
"""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.channel_kit import signature_is_valid
from standins import faults

GENERIC_SECRET = "local-sms-gateway-secret"


def create_app() -> FastAPI:
    app = FastAPI(title="SMS gateway STAND-IN (nothing is sent)")
    faults.install(app, "/api/")
    sent: list[dict] = []
    references: set[str] = set()

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
    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("ADUAN_SMS_STANDIN_PORT", "13090")))
