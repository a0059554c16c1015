"""Web intake: the HTML form (works without JavaScript), the status page, and the JSON API.

Every complaint, whatever channel it came by, can be looked up here by tracking code: the
intake keeps its own read model of the events (docs/adr/0002). This module wires the parts:
pages.py and api.py (FastAPI routers), read_model.py (Kafka consumers), intake.py (what they share).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from services.intake.web import api, open311, pages, read_model
from services.intake.web.form import MAX_PHOTO_BYTES
from services.intake.web.intake import SERVICE, WebIntake
from services.intake.web.rate_limit import RateLimiter
from services.intake.web.settings import WebSettings
from shared.channel_kit import IntakeKit, create_intake_app
from shared.consumer import consumer_broker
from shared.contracts import Channel
from shared.database import create_pool, migrate
from shared.dead_letter import DeadLetters
from shared.evidence import EvidenceStore
from shared.health import database_check
from shared.local_time import wib

HERE = Path(__file__).parent
FORM_BODY_LIMIT = MAX_PHOTO_BYTES + 512 * 1024  # the photo plus the fields


def build_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    broker = consumer_broker(SERVICE, settings)  # it also consumes, for the status read model
    kit = IntakeKit(settings, producer=SERVICE, channel=Channel.WEB, broker=broker)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["wib"] = wib
    web = WebIntake(settings, kit, templates, RateLimiter(settings.submissions_per_minute, settings.submissions_burst),
                    asyncio.Semaphore(settings.concurrent_forms), DeadLetters(SERVICE, broker),
                    EvidenceStore(settings.evidence),
                    RateLimiter(settings.open311_requests_per_minute, settings.open311_burst))
    read_model.subscribe(broker, web)

    async def connect_database() -> None:
        pool = await create_pool(settings.db, "web")
        await migrate(pool, "web", HERE / "migrations")
        web.connected(pool)
        await web.evidence.open()  # a client only: the store being away refuses photos, not complaints

    async def close_database() -> None:
        await web.evidence.close()
        if web.pool:
            await web.pool.close()

    app = create_intake_app(kit, title="Aduan web intake",
                            extra_checks={"postgres": database_check(lambda: web.pool)},
                            on_startup=connect_database, on_shutdown=close_database,
                            body_limits_by_path={"/aduan": FORM_BODY_LIMIT}, max_in_flight=settings.max_in_flight)
    app.state.web = web
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(open311.router)
    return app
