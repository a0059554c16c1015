"""SMS intake: Kannel (get-url/post-url), Gammu SMSD (SQL inbox) and a generic signed JSON webhook.

Besides complaints it answers `SURGA CEK <kode lacak>` from the web intake's status API (status.py).
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from services.intake.sms import generic, kannel
from services.intake.sms.gammu import GammuInbox
from services.intake.sms.inbound import StatusDesk, accept_sms
from services.intake.sms.status import StatusLookup, StatusUnavailable
from shared.channel_kit import IntakeKit, create_intake_app, describe
from shared.contracts import Channel
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


class SmsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_SMS_")

    port: int = 8081
    gateway_secret: SecretStr = SecretStr("")  # generic webhook; empty disables the check (local only)
    gateway_timezone: str = "Asia/Jakarta"  # Kannel's %t and Gammu's ReceivingDateTime carry no zone
    gammu_database_url: str | None = None  # set to read a Gammu SMSD inbox table
    gammu_gateway_name: str = "modem1"  # tells two Gammu databases' IDs apart
    gammu_poll_seconds: float = 2.0
    status_api_url: str = "http://127.0.0.1:8080"  # the web intake, which keeps every complaint's status
    status_api_timeout_seconds: float = 3.0  # then 503: the gateway asks again later
    public_base_url: str = "http://127.0.0.1:8080"  # the status page named in replies


def build_app(settings: SmsSettings | None = None) -> FastAPI:
    settings = settings or SmsSettings()
    kit = IntakeKit(settings, producer="intake-sms", channel=Channel.SMS)
    zone = ZoneInfo(settings.gateway_timezone)
    secret = settings.gateway_secret.get_secret_value()
    desk = StatusDesk(StatusLookup(settings.status_api_url, settings.status_api_timeout_seconds), zone,
                      settings.public_base_url.rstrip("/"))
    gammu = (GammuInbox(settings.gammu_database_url, settings.gammu_gateway_name, zone,
                        lambda sms: accept_sms(kit, sms, desk)) if settings.gammu_database_url else None)
    tasks: list[asyncio.Task] = []

    async def start_gammu() -> None:
        if not secret:
            log.warning("generic_sms_webhook_unsigned", hint="set ADUAN_SMS_GATEWAY_SECRET outside development")
        if gammu:
            await gammu.start()
            tasks.append(asyncio.create_task(gammu.run(settings.gammu_poll_seconds)))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        if gammu:
            await gammu.close()
        await desk.lookup.close()

    app = create_intake_app(kit, title="Aduan SMS intake", on_startup=start_gammu, on_shutdown=stop)
    app.state.gammu = gammu

    @app.exception_handler(StatusUnavailable)
    async def _status_unavailable(_request: Request, _error: StatusUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, headers={"Retry-After": "5"},
                            content={"detail": "Status aduan sedang tidak dapat dibaca, silakan coba lagi.",
                                     "reason": "status_unavailable"})

    @app.get("/kannel/inbound", status_code=202, operation_id="kannel_get_url")
    @app.post("/kannel/inbound", status_code=202, operation_id="kannel_post_url")
    async def kannel_inbound(request: Request) -> dict:
        """Kannel sms-service get-url / post-url (see services/intake/sms/kannel.py for its config)."""
        return await accept_sms(kit, await kannel.parse(request, zone), desk)

    @app.post("/api/v1/sms/inbound", status_code=202, response_model=None)
    async def generic_inbound(request: Request) -> dict | JSONResponse:
        """Generic JSON webhook, signed with HMAC-SHA256 (X-Signature + X-Timestamp) or a shared secret."""
        raw = await request.body()
        if problem := generic.authenticated(secret, raw, dict(request.headers)):
            return kit.reject(problem, "Permintaan tidak terautentikasi.", status=401)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return kit.reject("unsupported_media_type", "Kirim JSON (Content-Type: application/json).", 415)
        try:
            sms = generic.GenericSms.model_validate_json(raw)
        except ValidationError as error:
            return kit.reject("invalid_payload", describe(error))
        return await accept_sms(kit, sms.inbound(), desk)

    return app
