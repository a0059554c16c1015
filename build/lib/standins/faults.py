"""Fault injection shared by the stand-ins, set over HTTP by tests (never in production: stand-ins only).

    POST   /_standin/faults  {"mode": "error" | "timeout" | "rate_limit" | "slow",
                              "count": 5,            # requests affected; omit for "until cleared"
                              "delay_seconds": 3,    # for timeout and slow
                              "retry_after": 2}      # for rate_limit
    DELETE /_standin/faults  -> healthy again

- error: answer 500 without doing anything.
- timeout: DO the work, then hold the answer for delay_seconds: the client times out although
  the counterpart acted (the case that creates duplicates in careless clients).
- rate_limit: answer 429 with Retry-After, without doing anything.
- slow: hold for delay_seconds, then do the work and answer normally.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class FaultSpec(BaseModel):
    mode: Literal["error", "timeout", "rate_limit", "slow"]
    count: int | None = None
    delay_seconds: float = 3.0
    retry_after: int = 1


@dataclass
class Faults:
    spec: FaultSpec | None = None
    injected: int = 0

    def take(self) -> FaultSpec | None:
        spec = self.spec
        if spec is None:
            return None
        if spec.count is not None:
            if spec.count <= 0:
                self.spec = None
                return None
            spec.count -= 1
        self.injected += 1
        return spec


def install(app: FastAPI, *path_prefixes: str) -> Faults:
    """Faults for every request under one of `path_prefixes`, and the /_standin/faults endpoints."""
    faults = Faults()

    @app.post("/_standin/faults", include_in_schema=False)
    async def set_faults(spec: FaultSpec) -> dict:
        faults.spec = spec
        return {"mode": spec.mode}

    @app.delete("/_standin/faults", include_in_schema=False)
    async def clear_faults() -> dict:
        faults.spec = None
        return {"injected": faults.injected}

    @app.middleware("http")
    async def inject(request: Request, call_next):
        if not request.url.path.startswith(path_prefixes) or (spec := faults.take()) is None:
            return await call_next(request)
        if spec.mode == "error":
            return JSONResponse({"detail": "stand-in fault: internal error"}, status_code=500)
        if spec.mode == "rate_limit":
            return JSONResponse({"detail": "stand-in fault: too many requests"}, status_code=429,
                                headers={"Retry-After": str(spec.retry_after)})
        if spec.mode == "slow":
            await asyncio.sleep(spec.delay_seconds)
            return await call_next(request)
        response = await call_next(request)  # timeout: the work is done, the answer comes too late
        await asyncio.sleep(spec.delay_seconds)
        return response

    return faults
