"""WhatsApp intake: the Cloud API webhook (verification GET, signed POST of messages and statuses).

Meta batches: one POST may carry many entries, changes, messages and statuses. Each is handled on its
own (services/intake/whatsapp/inbound.py): what can be used is published, what cannot is set aside
with its reason, and the POST is answered 200 once all of it is in Kafka. Only a payload that is not
a WhatsApp webhook at all is refused (400), and only a failure that a retry can cure (Kafka or the
status API away) makes it 503, which Meta retries: every event is keyed by the wamid, so a retry
files nothing twice.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from services.intake.whatsapp.cloud_api import Webhook
from services.intake.whatsapp.inbound import WhatsAppInbound, parts
from shared.channel_kit import BrokerUnavailable, IntakeKit, create_intake_app, describe, signature_is_valid
from shared.complaint_status import StatusLookup, StatusUnavailable
from shared.contracts import Channel, CitizenContactChanged, DeliveryReceipt
from shared.settings import ServiceSettings

# Meta sends up to 1,000 updates per POST and waits about 10 s before retrying. Payloads are
# small JSON; 3 MiB leaves room for any batch Meta sends.
BODY_LIMIT = 3 * 1024 * 1024
WHATSAPP_OBJECT = "whatsapp_business_account"


class WhatsAppSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_WHATSAPP_")

    port: int = 8082
    # From the Meta app dashboard. No defaults: unset, every verification and every POST is refused.
    verify_token: SecretStr = SecretStr("")
    app_secret: SecretStr = SecretStr("")  # signs every POST Meta sends
    status_api_url: str = "http://127.0.0.1:8080"  # the web intake, which keeps every complaint's status
    status_api_timeout_seconds: float = 3.0
    public_base_url: str = "http://127.0.0.1:8080"  # the status page named in replies
    # Meta delivers again a webhook not answered 200 (docs/whatsapp.md), so past this many in flight one is
    # refused at once (503 + Retry-After) rather than left to time out (shared/channel_kit.py InFlightLimit).
    max_in_flight: int = Field(default=32, ge=1)


@dataclass(frozen=True)
class WhatsAppIntake:
    """What the webhook's handlers need, built once by build_app."""

    settings: WhatsAppSettings
    kit: IntakeKit
    inbound: WhatsAppInbound


async def whatsapp_intake(request: Request) -> WhatsAppIntake:
    intake: WhatsAppIntake = request.app.state.whatsapp
    return intake


router = APIRouter()


@router.get("/webhook", response_class=PlainTextResponse, response_model=None)
async def verify(mode: str = Query(alias="hub.mode"), token: str = Query(alias="hub.verify_token"),
                 challenge: str = Query(alias="hub.challenge"),
                 intake: WhatsAppIntake = Depends(whatsapp_intake)) -> str | JSONResponse:
    expected = intake.settings.verify_token.get_secret_value()
    if mode != "subscribe" or not expected or not secrets.compare_digest(token.encode(), expected.encode()):
        return intake.kit.reject("verification_failed", "hub.verify_token does not match", status=403)
    return challenge


@router.post("/webhook", response_model=None)
async def receive(request: Request, intake: WhatsAppIntake = Depends(whatsapp_intake)) -> dict[str, Any] | JSONResponse:
    kit = intake.kit
    raw = await request.body()
    if not signature_is_valid(intake.settings.app_secret.get_secret_value(), raw,
                              request.headers.get("x-hub-signature-256")):
        return kit.reject("bad_signature", "invalid or missing X-Hub-Signature-256", status=401)
    try:
        webhook = Webhook.model_validate_json(raw)
    except ValidationError as error:
        return kit.reject("invalid_payload", f"not a WhatsApp webhook payload: {describe(error)}", status=400)
    if webhook.object != WHATSAPP_OBJECT:
        return kit.reject("invalid_payload", f"object is {webhook.object[:50]!r}, not {WHATSAPP_OBJECT}",
                          status=400)
    # Concurrently, so a payload with many messages still answers within Meta's timeout.
    try:
        outcomes = await asyncio.gather(*(intake.inbound.handle(part) for part in parts(webhook)))
    except StatusUnavailable as error:
        raise BrokerUnavailable(f"status API: {error}") from error  # 503: Meta sends it all again
    return {"accepted": [o.tracking_code for o in outcomes if o.outcome == "complaint"],
            "outcomes": [vars(o) for o in outcomes]}


def build_app(settings: WhatsAppSettings | None = None) -> FastAPI:
    settings = settings or WhatsAppSettings()
    kit = IntakeKit(settings, producer="intake-whatsapp", channel=Channel.WHATSAPP)
    kit.broker.publisher(kit.topics.delivery_receipts, schema=DeliveryReceipt,
                         title="intake-whatsapp:citizen.delivery_receipts")
    kit.broker.publisher(kit.topics.contact_changes, schema=CitizenContactChanged,
                         title="intake-whatsapp:citizen.contact_changes")
    lookup = StatusLookup(settings.status_api_url, settings.status_api_timeout_seconds)
    app = create_intake_app(kit, title="Aduan WhatsApp intake", body_limit=BODY_LIMIT, on_shutdown=lookup.close,
                            max_in_flight=settings.max_in_flight)
    app.state.whatsapp = WhatsAppIntake(settings, kit, WhatsAppInbound(kit, lookup, settings.public_base_url))
    app.include_router(router)
    return app
