"""SMS intake: Kannel (get-url/post-url), Gammu SMSD (SQL inbox) and a generic signed JSON webhook."""

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
from services.intake.sms.inbound import accept_sms
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


def build_app(settings: SmsSettings | None = None) -> FastAPI:
    settings = settings or SmsSettings()
    kit = IntakeKit(settings, producer="intake-sms", channel=Channel.SMS)
    zone = ZoneInfo(settings.gateway_timezone)
    secret = settings.gateway_secret.get_secret_value()
    gammu = (GammuInbox(settings.gammu_database_url, settings.gammu_gateway_name, zone,
                        lambda sms: accept_sms(kit, sms)) if settings.gammu_database_url else None)
    tasks: list[asyncio.Task] = []

    async def start_gammu() -> None:
        if not secret:
            log.warning("generic_sms_webhook_unsigned", hint="set ADUAN_SMS_GATEWAY_SECRET outside development")
        if gammu:
            await gammu.start()
            tasks.append(asyncio.create_task(gammu.run(settings.gammu_poll_seconds)))

    async def stop_gammu() -> None:
        for task in tasks:
            task.cancel()
        if gammu:
            await gammu.close()

    app = create_intake_app(kit, title="Aduan SMS intake", on_startup=start_gammu, on_shutdown=stop_gammu)
    app.state.gammu = gammu

    @app.get("/kannel/inbound", status_code=202, operation_id="kannel_get_url")
    @app.post("/kannel/inbound", status_code=202, operation_id="kannel_post_url")
    async def kannel_inbound(request: Request) -> dict:
        """Kannel sms-service get-url / post-url (see services/intake/sms/kannel.py for its config)."""
        return await accept_sms(kit, await kannel.parse(request, zone))

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
        return await accept_sms(kit, sms.inbound())

    return app
