"""STAND-IN for a unit's own system receiving Aduan's signed webhooks: records what arrives.

POST /hooks/{unit}: stores the raw body and headers; GET /_standin/requests lists them.
Faults: standins/faults.py. Run: python -m standins.webhook_sink (ADUAN_WEBHOOK_SINK_PORT, default 8097)
"""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI, Request

from standins import faults


def create_app() -> FastAPI:
    app = FastAPI(title="Unit webhook receiver STAND-IN")
    faults.install(app, "/hooks/")
    received: list[dict] = []

    @app.post("/hooks/{unit}", status_code=204)
    async def hook(unit: str, request: Request) -> None:
        received.append({"unit": unit, "body": (await request.body()).decode(),
                         "headers": {k: v for k, v in request.headers.items() if k.startswith("x-aduan")}})

    @app.get("/_standin/requests")
    async def requests() -> dict:
        return {"items": received}

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("ADUAN_WEBHOOK_SINK_PORT", "8097")))
