"""Web intake: the JSON API behind the web form, and the status of any complaint by tracking code."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, EmailStr, Field
from pydantic_settings import SettingsConfigDict

from services.intake.web.status import StatusRepository
from shared.channel_kit import IntakeKit, create_intake_app
from shared.consumer import consumer_broker, subscriber_options
from shared.contracts import (
    Anonymity,
    Channel,
    ComplaintAssigned,
    ComplaintReceived,
    Reporter,
    normalise_tracking_code,
)
from shared.database import create_pool, migrate
from shared.health import database_check
from shared.phone import to_e164
from shared.settings import ServiceSettings

SERVICE = "intake-web"
MIGRATIONS = Path(__file__).parent / "migrations"


class WebSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_WEB_")

    port: int = 8080
    status_group_id: str = "web-status"


class ComplaintForm(BaseModel):
    text: str = Field(min_length=10, max_length=5000, description="isi aduan")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: EmailStr | None = None
    anonymity: Anonymity = Anonymity.NONE
    category: str | None = Field(default=None, max_length=100)


class Accepted(BaseModel):
    complaint_id: str
    tracking_code: str
    status_url: str


def build_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    broker = consumer_broker(SERVICE, settings)  # it also consumes, for the status read model
    kit = IntakeKit(settings, producer=SERVICE, broker=broker)
    state: dict = {}

    @broker.subscriber(kit.topics.received, **subscriber_options(settings.status_group_id, "web-status"))
    async def on_received(event: ComplaintReceived) -> None:
        await state["status"].received(event)

    @broker.subscriber(kit.topics.assigned, **subscriber_options(settings.status_group_id, "web-status"))
    async def on_assigned(event: ComplaintAssigned) -> None:
        await state["status"].assigned(event)

    async def connect_database() -> None:
        state["pool"] = await create_pool(settings.db, "web")
        await migrate(state["pool"], "web", MIGRATIONS)
        state["status"] = StatusRepository(state["pool"])

    async def close_database() -> None:
        await state["pool"].close()

    app = create_intake_app(kit, title="Aduan web intake",
                            extra_checks={"postgres": database_check(lambda: state.get("pool"))},
                            on_startup=connect_database, on_shutdown=close_database)

    @app.post("/api/v1/complaints", status_code=202, response_model=Accepted)
    async def submit_complaint(form: ComplaintForm,
                               idempotency_key: str | None = Header(default=None, max_length=200)) -> Accepted:
        """Answers only after Kafka acknowledged the complaint. Send an Idempotency-Key to make retries safe."""
        phone = None
        if form.phone:
            phone = to_e164(form.phone)
            if phone is None:
                raise HTTPException(status_code=422, detail={"reason": "invalid_phone",
                                                             "message": "Nomor telepon tidak valid."})
        event = ComplaintReceived.new(
            channel=Channel.WEB, channel_message_id=idempotency_key or str(uuid.uuid4()),
            text=form.text.strip(), producer=SERVICE, anonymity=form.anonymity, category=form.category,
            reporter=Reporter(name=form.name, phone=phone, email=form.email),
        )
        await kit.publish(event)
        await state["status"].received(event)  # so the status page knows it at once
        return Accepted(complaint_id=event.complaint_id, tracking_code=event.tracking_code,
                        status_url=f"/api/v1/complaints/{event.tracking_code}")

    @app.get("/api/v1/complaints/{tracking_code}")
    async def complaint_status(tracking_code: str) -> dict:
        code = normalise_tracking_code(tracking_code)
        if code is None:
            raise HTTPException(status_code=400, detail="Kode lacak tidak valid (10 huruf/angka, mis. ABCDE-12345).")
        found = await state["status"].find(code)
        if found is None:
            raise HTTPException(status_code=404, detail="Kode lacak tidak ditemukan.")
        return found

    return app
