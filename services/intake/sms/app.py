"""SMS intake: Kannel (get-url/post-url), Gammu SMSD (SQL inbox) and a generic signed JSON webhook.

Every SMS is kept in the inbound spool before its gateway is answered (intake.py, docs/adr/0003).
Besides complaints it answers `SURGA CEK <kode>` and takes `SURGA BALAS <kode> <isi>` through the
web intake's status API (status.py). Gateway settings we rely on: docs/sms-gateways.md.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from services.intake.sms import generic, kannel
from services.intake.sms.gammu import GammuInbox
from services.intake.sms.inbound import StatusDesk
from services.intake.sms.intake import SmsIntake
from services.intake.sms.spool import Spool
from shared.channel_kit import RETRY_AFTER_SECONDS, IntakeKit, create_intake_app, describe
from shared.complaint_status import StatusLookup, StatusUnavailable
from shared.contracts import Channel
from shared.health import database_check
from shared.local_time import WIB
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


class SmsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_SMS_")

    port: int = 8081
    gateway_secret: SecretStr = SecretStr("")  # generic webhook; empty: every call refused
    # Kannel's get-url/post-url carries it as `key=` (deploy/gateways/kannel): without it anyone who can reach
    # the intake could file complaints under any number and make the city send paid SMS. Empty: every Kannel
    # call is refused.
    kannel_secret: SecretStr = SecretStr("")
    # Each gateway's timestamps carry no zone, and they differ: Kannel's %t is UTC whatever TZ says;
    # Gammu's ReceivingDateTime is the gammu-smsd process's local time.
    kannel_timezone: str = "UTC"
    gammu_timezone: str = "Asia/Jakarta"
    gammu_database_url: str | None = None  # set to read a Gammu SMSD inbox table
    gammu_gateway_name: str = "modem1"  # tells two Gammu databases' IDs apart
    gammu_poll_seconds: float = 2.0
    spool: bool = True  # off only in handler unit tests: then an SMS is handled at once or refused
    spool_retry_max_seconds: float = 60.0  # back-off ceiling while Kafka or the status API is away
    max_inline: int = 16  # SMS handled at once at most; more are kept and answered "queued" (intake.py)
    status_api_url: str = "http://127.0.0.1:8080"  # the web intake, which keeps every complaint's status
    status_api_timeout_seconds: float = 3.0
    public_base_url: str = "http://127.0.0.1:8080"  # the status page named in replies


async def get_intake(request: Request) -> SmsIntake:
    return request.app.state.intake


Intake = Annotated[SmsIntake, Depends(get_intake)]
routes = APIRouter()


@routes.get("/kannel/inbound", status_code=202, operation_id="kannel_get_url", response_model=None)
@routes.post("/kannel/inbound", status_code=202, operation_id="kannel_post_url", response_model=None)
async def kannel_inbound(request: Request, intake: Intake) -> dict | JSONResponse:
    """Kannel sms-service get-url / post-url (deploy/gateways/kannel/kannel.conf.template)."""
    if problem := kannel.authenticated(request.app.state.kannel_secret, request.query_params.get("key")):
        return intake.kit.reject(problem, "Permintaan tidak terautentikasi.", status=401)
    return await intake.accept(await kannel.parse(request, request.app.state.kannel_zone))


@routes.post("/api/v1/sms/inbound", status_code=202, response_model=None)
async def generic_inbound(request: Request, intake: Intake) -> dict | JSONResponse:
    """Generic JSON webhook, signed with HMAC-SHA256 (X-Signature + X-Timestamp) or a shared secret."""
    kit = intake.kit
    raw = await request.body()
    if problem := generic.authenticated(request.app.state.gateway_secret, raw, dict(request.headers)):
        return kit.reject(problem, "Permintaan tidak terautentikasi.", status=401)
    if not request.headers.get("content-type", "").startswith("application/json"):
        return kit.reject("unsupported_media_type", "Kirim JSON (Content-Type: application/json).", 415)
    try:
        sms = generic.GenericSms.model_validate_json(raw)
    except ValidationError as error:
        return kit.reject("invalid_payload", describe(error))
    return await intake.accept(sms.inbound())


async def _status_unavailable(_request: Request, _error: StatusUnavailable) -> JSONResponse:
    # Only when the spool is away as well: otherwise the SMS waits in the spool and the gateway hears 202.
    return JSONResponse(status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                        content={"detail": "Status aduan sedang tidak dapat dibaca, silakan coba lagi.",
                                 "reason": "status_unavailable"})


def build_app(settings: SmsSettings | None = None) -> FastAPI:
    settings = settings or SmsSettings()
    kit = IntakeKit(settings, producer="intake-sms", channel=Channel.SMS)
    desk = StatusDesk(StatusLookup(settings.status_api_url, settings.status_api_timeout_seconds),
                      WIB, settings.public_base_url.rstrip("/"))
    spool = Spool(settings.db, retry_max_seconds=settings.spool_retry_max_seconds) if settings.spool else None
    intake = SmsIntake(kit, desk, spool, max_inline=settings.max_inline)
    gammu = (GammuInbox(settings.gammu_database_url, settings.gammu_gateway_name, ZoneInfo(settings.gammu_timezone),
                        intake.take) if settings.gammu_database_url else None)
    tasks: list[asyncio.Task] = []

    async def start() -> None:
        if not settings.kannel_secret.get_secret_value():
            log.warning("kannel_endpoint_closed", hint="set ADUAN_SMS_KANNEL_SECRET to take SMS from Kannel")
        if not settings.gateway_secret.get_secret_value():
            log.warning("generic_sms_webhook_closed", hint="set ADUAN_SMS_GATEWAY_SECRET to take SMS from it")
        if intake.relay:
            try:  # at once if the database is there; the relay keeps trying if not (SMS go to Kafka directly)
                await spool.connect()
            except Exception as error:
                log.warning("sms_spool_database_away", error=repr(error))
            tasks.append(asyncio.create_task(intake.relay.run()))
        if gammu:
            await gammu.start()
            tasks.append(asyncio.create_task(gammu.run(settings.gammu_poll_seconds)))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for closing in (gammu, spool):
            if closing:
                await closing.close()
        await desk.lookup.close()

    app = create_intake_app(kit, title="Aduan SMS intake", on_startup=start, on_shutdown=stop,
                            ready_without_broker=database_check(lambda: spool.pool) if spool else None)
    app.state.intake, app.state.gammu, app.state.spool = intake, gammu, spool
    app.state.kannel_zone = ZoneInfo(settings.kannel_timezone)
    app.state.gateway_secret = settings.gateway_secret.get_secret_value()
    app.state.kannel_secret = settings.kannel_secret.get_secret_value()
    app.add_exception_handler(StatusUnavailable, _status_unavailable)
    app.include_router(routes)
    return app
