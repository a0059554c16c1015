"""InFlightLimit (shared/channel_kit.py): past its limit a request is refused at once with 503, Retry-After
and a reason; the health routes never are; a slot frees when a request ends, however it ends."""

from __future__ import annotations

import asyncio
import time

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from shared.channel_kit import InFlightLimit


def slow_app(gate: asyncio.Event) -> InFlightLimit:
    async def complaint(_request):
        await gate.wait()
        return JSONResponse({"tracking_code": "ADU-1"}, status_code=202)

    async def broken(_request):
        raise RuntimeError("a bug")

    async def ready(_request):
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/api/v1/complaints", complaint, methods=["POST"]),
                            Route("/broken", broken), Route("/readyz", ready)])
    return InFlightLimit(app, limit=2)


async def test_past_the_limit_a_request_is_refused_at_once_and_health_still_answers():
    gate = asyncio.Event()
    limited = slow_app(gate)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(limited), base_url="http://web") as client:
        held = [asyncio.create_task(client.post("/api/v1/complaints", json={})) for _ in range(2)]
        await asyncio.sleep(0.05)
        started = time.monotonic()
        refused = await client.post("/api/v1/complaints", json={})
        assert time.monotonic() - started < 0.5
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert refused.json()["reason"] == "overloaded"
        assert (await client.get("/readyz")).status_code == 200  # the kubelet still sees it ready
        gate.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [202, 202]
        assert (await client.post("/api/v1/complaints", json={})).status_code == 202  # slots freed
    assert limited.in_flight == 0


async def test_a_request_that_fails_frees_its_slot():
    limited = slow_app(asyncio.Event())
    transport = httpx.ASGITransport(limited, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
        for _ in range(3):
            assert (await client.get("/broken")).status_code == 500
    assert limited.in_flight == 0
