"""What a delivering service (the notifier, lapor_sync) did for one complaint, for the PPID back-office:

    GET /api/v1/complaints/{complaint_id}/deliveries   (Authorization: Bearer <record token>)

Each job of the complaint from the service's job table (shared/jobs.py: the row is the delivery record):
its kind, outcome (pending, done, dead), attempts, times, the last error and, from lapor_sync, the
SP4N-LAPOR! tracking number. No payload, no address: errors are masked as logs are (a bounced mail's
message names its address) and only the tracking number is taken from a job's result.

The token is the same in the router and both services (ADUAN_ROUTER_DELIVERY_RECORD_TOKEN,
ADUAN_NOTIFIER_RECORD_TOKEN, ADUAN_LAPOR_SYNC_RECORD_TOKEN); without one the API answers 404.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, SecretStr

from shared.logging import mask_text

PATH = "/api/v1/complaints/{complaint_id}/deliveries"
MAX_ERROR = 300


class Delivery(BaseModel):
    service: str
    kind: str
    status: str  # pending, done, dead
    attempts: int
    created_at: str  # ISO 8601, UTC
    finished_at: str | None  # done or given up
    last_error: str | None
    lapor_tracking_id: str | None = None


def delivery_record_api(service: str, pool: Callable[[], asyncpg.Pool | None], token: SecretStr) -> FastAPI:
    """The service's record API; `pool` gives the job table's pool once the service has started."""
    api = FastAPI(title=f"Aduan {service}: delivery record", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    router = APIRouter()

    def authorised(authorization: str = Header(default="")) -> None:
        expected = token.get_secret_value()
        if not expected:
            raise HTTPException(404, "the delivery record is not enabled (no record token)")
        if not secrets.compare_digest(authorization.removeprefix("Bearer ").strip().encode(), expected.encode()):
            raise HTTPException(401, "missing or unknown bearer token", headers={"WWW-Authenticate": "Bearer"})

    @router.get(PATH, dependencies=[Depends(authorised)])
    async def deliveries(complaint_id: uuid.UUID) -> list[Delivery]:
        """Every delivery of the complaint, oldest first."""
        found = pool()
        if found is None:
            raise HTTPException(503, "starting", headers={"Retry-After": "5"})
        rows = await found.fetch(
            """SELECT kind, status, attempts, created_at,
                      COALESCE(done_at, CASE WHEN status = 'dead' THEN updated_at END) AS finished_at,
                      last_error, result ->> 'lapor_tracking_id' AS lapor_tracking_id
               FROM jobs WHERE complaint_id = $1 ORDER BY created_at, job_id""", complaint_id)
        return [Delivery(service=service, kind=r["kind"], status=r["status"], attempts=r["attempts"],
                         created_at=r["created_at"].isoformat(),
                         finished_at=r["finished_at"].isoformat() if r["finished_at"] else None,
                         last_error=mask_text(r["last_error"])[:MAX_ERROR] if r["last_error"] else None,
                         lapor_tracking_id=r["lapor_tracking_id"]) for r in rows]

    api.include_router(router)
    return api
