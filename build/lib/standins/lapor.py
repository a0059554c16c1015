"""STAND-IN for SP4N-LAPOR!, NOT the real system.

Speaks exactly the contract in services/lapor_sync/lapor_contract.py, keeps reports in
memory, and checks the bearer token. Faults (500s, timeouts, 429, slowness) can be switched
on for tests: see standins/faults.py. For `make run` and the tests only.
Run: python -m standins.lapor  (port ADUAN_LAPOR_STANDIN_PORT, default 8099)
"""

from __future__ import annotations

import itertools
import os
import secrets

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse

from services.lapor_sync.lapor_contract import CreateReport, FollowUp, Report
from standins import faults


def create_app(token: str) -> FastAPI:
    app = FastAPI(title="SP4N-LAPOR! STAND-IN (not the real LAPOR!)")
    faults.install(app, "/api/")
    reports: dict[str, dict] = {}  # tracking_id -> stored report
    by_reference: dict[str, str] = {}
    numbers = itertools.count(1)
    instance = secrets.token_hex(3).upper()

    def authorised(authorization: str = Header(default="")) -> None:
        if not secrets.compare_digest(authorization, f"Bearer {token}"):
            raise HTTPException(status_code=401, detail="invalid token")

    def public(stored: dict) -> dict:
        return Report(**stored).model_dump()

    @app.post("/api/v1/reports", status_code=201, dependencies=[Depends(authorised)])
    async def create_report(body: CreateReport) -> JSONResponse:
        if existing := by_reference.get(body.reference):
            return JSONResponse(public(reports[existing]), status_code=409)
        # Unique across stand-in restarts, as the real tracking ids are unique forever.
        tracking_id = f"LAPOR-STANDIN-{instance}-{next(numbers):05d}"
        reports[tracking_id] = {"tracking_id": tracking_id, "reference": body.reference,
                                "status": "Belum Terverifikasi", "request": body.model_dump(mode="json"),
                                "followups": []}
        by_reference[body.reference] = tracking_id
        return JSONResponse(public(reports[tracking_id]), status_code=201)

    @app.get("/api/v1/reports", dependencies=[Depends(authorised)])
    async def find_reports(reference: str | None = None) -> dict:
        if reference is None:  # the whole store, for people and tests to inspect
            return {"items": list(reports.values())}
        tracking_id = by_reference.get(reference)
        return {"items": [public(reports[tracking_id])] if tracking_id else []}

    @app.get("/api/v1/reports/{tracking_id}", dependencies=[Depends(authorised)])
    async def get_report(tracking_id: str) -> dict:
        if tracking_id not in reports:
            raise HTTPException(status_code=404, detail="unknown tracking id")
        return public(reports[tracking_id])

    @app.post("/api/v1/reports/{tracking_id}/followups", status_code=201, dependencies=[Depends(authorised)])
    async def add_follow_up(tracking_id: str, body: FollowUp) -> JSONResponse:
        if tracking_id not in reports:
            raise HTTPException(status_code=404, detail="unknown tracking id")
        if any(f["reference"] == body.reference for f in reports[tracking_id]["followups"]):
            return JSONResponse({"detail": "follow-up exists"}, status_code=409)
        reports[tracking_id]["followups"].append(body.model_dump())
        reports[tracking_id]["status"] = body.status
        return JSONResponse({"ok": True}, status_code=201)

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(os.environ.get("ADUAN_LAPOR_STANDIN_TOKEN", "local-standin-token")),
                host="127.0.0.1", port=int(os.environ.get("ADUAN_LAPOR_STANDIN_PORT", "8099")))
