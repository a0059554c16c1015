"""Web intake: the HTML form (works without JavaScript), the status page, and the JSON API.

Every complaint, whatever channel it came by, can be looked up here by tracking code: the
intake keeps its own read model of the events (docs/adr/0002).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path

import structlog
from fastapi import FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from faststream import Context
from faststream.kafka.message import KafkaMessage
from pydantic import BaseModel, EmailStr, Field, SecretStr
from pydantic_settings import SettingsConfigDict
from starlette.datastructures import FormData

from services.intake.web import csrf
from services.intake.web.form import MAX_PHOTO_BYTES, MAX_TEXT, MIN_TEXT, read_submission, submission_id_of
from services.intake.web.rate_limit import RateLimiter
from services.intake.web.status import REPLY_OPEN, ComplaintStatusView, StatusRepository
from services.intake.web.uploads import UploadRepository
from shared.channel_kit import IntakeKit, InvalidText, clean_text, create_intake_app
from shared.consumer import batch_options, consumer_broker, read_batch, subscriber_options
from shared.contracts import (
    Anonymity,
    Channel,
    CitizenReplied,
    ComplaintAssigned,
    ComplaintReceived,
    Reporter,
    StatusEvent,
    citizen_reply_id_for,
    normalise_tracking_code,
)
from shared.database import create_pool, migrate
from shared.dead_letter import DeadLetters
from shared.health import database_check
from shared.local_time import wib
from shared.phone import to_e164
from shared.settings import ServiceSettings

SERVICE = "intake-web"
FORM_WAIT_SECONDS = 10.0  # for a turn to read a form, before "busy, try again"
HERE = Path(__file__).parent
FORM_BODY_LIMIT = MAX_PHOTO_BYTES + 512 * 1024  # the photo plus the fields
MAX_REPLY = 3000
log = structlog.get_logger(__name__)


class WebSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_WEB_")

    port: int = 8080
    status_group_id: str = "web-status"
    # Shared by all replicas in production; a random one per process is fine for one replica.
    csrf_secret: SecretStr = SecretStr(secrets.token_hex(32))
    secure_cookies: bool = False  # True behind HTTPS
    submissions_per_minute: float = 2.0  # per client address, after a burst of...
    submissions_burst: int = 10
    # Proxies in front that append the address they saw to X-Forwarded-For (Kubernetes: the ingress, 1). The
    # client is that many entries from the right; what is left of it the client wrote itself. 0: the peer.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    # Forms read at once: each may spool up to its 6 MB photo to /tmp (a 64 MiB emptyDir in Kubernetes).
    concurrent_forms: int = Field(default=8, ge=1)


class ComplaintForm(BaseModel):
    text: str = Field(min_length=MIN_TEXT, max_length=MAX_TEXT, description="isi aduan")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: EmailStr | None = None
    anonymity: Anonymity = Anonymity.NONE
    category: str | None = Field(default=None, max_length=100)


class NotReplyable(Exception):
    """Why a citizen's reply cannot be taken: an HTTP status, a reason code, a message for people."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class ReplyForm(BaseModel):
    text: str = Field(min_length=MIN_TEXT, max_length=MAX_REPLY, description="balasan atas tanggapan unit")


class ReplyAccepted(BaseModel):
    reply_id: str
    tracking_code: str
    status_url: str


class Accepted(BaseModel):
    complaint_id: str
    tracking_code: str
    status_url: str


def client_address(peer: str, forwarded_for: str | None, trusted_hops: int) -> str:
    """Who is asking, for the rate limit: the address our `trusted_hops`-th proxy saw. The left-most
    X-Forwarded-For entry is whatever the client wrote (a fresh one per request escaped every limit)."""
    if trusted_hops == 0:
        return peer
    seen = [part.strip() for part in (forwarded_for or "").split(",")[-trusted_hops:]]
    return seen[0] if len(seen) == trusted_hops and seen[0] else peer


def scoped(source: str, key: str, *content: object) -> str:
    """The message id of a submission: the caller's Idempotency-Key (or the form's submission id) with a digest
    of what was submitted. A retry, the same key with the same content, is the same complaint; someone else
    sending a key they saw or guessed with other content gets a complaint of their own, not the first one's
    tracking code, and cannot shadow it."""
    digest = hashlib.sha256(repr(content).encode()).hexdigest()[:32]
    return f"{source}:{key}:{digest}"


def build_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    broker = consumer_broker(SERVICE, settings)  # it also consumes, for the status read model
    kit = IntakeKit(settings, producer=SERVICE, channel=Channel.WEB, broker=broker)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["wib"] = wib
    limiter = RateLimiter(settings.submissions_per_minute, settings.submissions_burst)
    csrf_secret = settings.csrf_secret.get_secret_value()
    state: dict = {}

    @broker.subscriber(kit.topics.assigned, **subscriber_options(settings.status_group_id, "web-status:assigned"))
    async def on_assigned(event: ComplaintAssigned) -> None:
        await state["status"].assigned(event)

    status_dead_letters = DeadLetters(SERVICE, broker)

    @broker.subscriber(kit.topics.status, **batch_options(settings, settings.status_group_id, "web-status:status",
                                                          StatusEvent))
    async def on_status(bodies: list, message: KafkaMessage = Context("message")) -> None:
        await state["status"].apply(await read_batch(bodies, message.raw_message, StatusEvent, status_dead_letters))

    async def connect_database() -> None:
        state["pool"] = await create_pool(settings.db, "web")
        await migrate(state["pool"], "web", HERE / "migrations")
        state["status"] = StatusRepository(state["pool"])
        state["uploads"] = UploadRepository(state["pool"])

    async def close_database() -> None:
        await state["pool"].close()

    app = create_intake_app(kit, title="Aduan web intake",
                            extra_checks={"postgres": database_check(lambda: state.get("pool"))},
                            on_startup=connect_database, on_shutdown=close_database,
                            body_limits_by_path={"/aduan": FORM_BODY_LIMIT})

    async def accept(event: ComplaintReceived) -> None:
        """Kafka first (BrokerUnavailable -> 503), then the status page, so it knows the code at once. No fsync
        wait: a row lost in a database crash comes back with the assignment. This intake does not read
        complaints.received.v1 (other channels' reporters are on it), so this is the only "received" row."""
        await kit.publish(event)
        await state["status"].received(event)

    def client_of(request: Request) -> str:
        peer = request.client.host if request.client else "unknown"
        return client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxy_hops)

    def rate_limited(request: Request) -> float:
        return limiter.allow(client_of(request))

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def problem(request: Request, status: int, heading: str, message: str, **headers: str) -> HTMLResponse:
        response = page(request, "problem.html", status, heading=heading, message=message)
        response.headers.update(headers)
        return response

    def page_with_form(request: Request, name: str, status: int = 200, submission_id: str | None = None,
                       **context) -> HTMLResponse:
        """A page with a form: its CSRF token (also set as the cookie it must match) and its own id."""
        token = request.cookies.get(csrf.COOKIE)
        if not csrf.is_valid(csrf_secret, token, token):
            token = csrf.new_token(csrf_secret)
        response = page(request, name, status, csrf_token=token, submission_id=submission_id or str(uuid.uuid4()),
                        **context)
        response.set_cookie(csrf.COOKIE, token, httponly=True, samesite="strict", secure=settings.secure_cookies,
                            max_age=24 * 3600)
        return response

    async def posted_form(request: Request, *, max_files: int, max_fields: int, again: str,
                          ) -> FormData | HTMLResponse:
        """The posted form once it is readable and carries this browser's CSRF token; else the page saying so
        (`again`: what to do about an expired form)."""
        try:
            form = await request.form(max_files=max_files, max_fields=max_fields)
        except Exception as error:  # malformed multipart, too many parts
            log.info("form_unreadable", error=repr(error))
            return problem(request, 400, "Formulir tidak terbaca", "Formulir rusak atau tidak lengkap.")
        if not csrf.is_valid(csrf_secret, request.cookies.get(csrf.COOKIE), str(form.get(csrf.FIELD) or "")):
            return problem(request, 403, "Sesi formulir kedaluwarsa", again)
        return form

    def too_many_page(request: Request, wait: float) -> HTMLResponse:
        return problem(request, 429, "Terlalu banyak kiriman", "Mohon tunggu sebentar sebelum mengirim lagi.",
                       **{"Retry-After": str(int(wait) + 1)})

    def too_many_json(wait: float) -> JSONResponse:
        response = kit.reject("rate_limited", "Terlalu banyak kiriman; coba lagi nanti.", status=429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response

    def form_page(request: Request, status: int = 200, values: dict | None = None,
                  errors: dict | None = None, submission_id: str | None = None) -> HTMLResponse:
        return page_with_form(request, "form.html", status, submission_id, values=values or {}, errors=errors or {},
                              min_text=MIN_TEXT, max_text=MAX_TEXT, max_photo_mb=MAX_PHOTO_BYTES // (1024 * 1024))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def complaint_form(request: Request) -> HTMLResponse:
        return form_page(request)

    # Forms with a photo taken at once: each may spool its photo to /tmp until it is answered (a 64 MiB
    # emptyDir in Kubernetes); more at a time filled it, and every upload failed.
    forms_in_hand = asyncio.Semaphore(settings.concurrent_forms)

    @app.post("/aduan", response_class=HTMLResponse, include_in_schema=False)
    async def submit_form(request: Request) -> HTMLResponse:
        try:
            async with asyncio.timeout(FORM_WAIT_SECONDS):
                await forms_in_hand.acquire()
        except TimeoutError:
            return problem(request, 503, "Sedang sibuk", "Banyak aduan sedang dikirim; coba lagi sebentar lagi.",
                           **{"Retry-After": "10"})
        try:
            return await take_form(request)
        finally:
            forms_in_hand.release()

    async def take_form(request: Request) -> HTMLResponse:
        if wait := rate_limited(request):
            return too_many_page(request, wait)
        if not request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                                     "application/x-www-form-urlencoded")):
            return problem(request, 415, "Format tidak didukung", "Kirim aduan lewat formulir di halaman ini.")
        form = await posted_form(request, max_files=1, max_fields=20,
                                 again="Muat ulang halaman formulir, lalu kirim aduan sekali lagi.")
        if isinstance(form, HTMLResponse):
            return form
        submission = await read_submission(form)
        if submission.errors:
            return form_page(request, 422, submission.values, submission.errors, submission.submission_id)
        event = ComplaintReceived.new(
            channel=Channel.WEB, text=submission.text, producer=SERVICE, anonymity=submission.anonymity,
            channel_message_id=scoped("form", submission.submission_id, submission.text, submission.reporter,
                                      submission.anonymity, submission.location),
            reporter=submission.reporter, location=submission.location)
        upload_id = await state["uploads"].store(event.complaint_id, submission.photo) if submission.photo else None
        event = event.model_copy(update={"attachments": submission.attachments(upload_id)})
        await accept(event)  # a broker outage answers 503 here; the form can be sent again safely
        return page(request, "confirmation.html", tracking_code=event.tracking_code, text=event.text,
                    photo=bool(upload_id))

    @app.get("/status", response_class=HTMLResponse, include_in_schema=False)
    async def status_page(request: Request, kode: str = "") -> HTMLResponse:
        if not kode:
            return page(request, "status.html", code="")
        code = normalise_tracking_code(kode)
        if code is None:
            return page(request, "status.html", 400, code=kode,
                        message="Kode lacak tidak valid: 10 huruf/angka, mis. ABCDE-12345.")
        found = await state["status"].find(code)
        if found is None:
            return page(request, "status.html", 404, code=kode, message="Kode lacak tidak ditemukan.")
        return status_page_with_reply_form(request, found)

    def status_page_with_reply_form(request: Request, found: ComplaintStatusView, status: int = 200,
                                    **context) -> HTMLResponse:
        return page_with_form(request, "status.html", status, code=found.tracking_code, found=found,
                              can_reply=found.status in REPLY_OPEN, max_reply=MAX_REPLY, **context)

    async def replyable(code: str | None) -> ComplaintStatusView:
        """The complaint a reply may be sent to; NotReplyable says why not."""
        if code is None:
            raise NotReplyable(400, "invalid_tracking_code",
                               "Kode lacak tidak valid (10 huruf/angka, mis. ABCDE-12345).")
        found = await state["status"].find(code)
        if found is None:
            raise NotReplyable(404, "not_found", "Kode lacak tidak ditemukan.")
        if found.status not in REPLY_OPEN:
            raise NotReplyable(409, "not_replyable", "Balasan hanya dapat dikirim setelah unit menanggapi aduan, "
                                                     "dan sebelum aduan selesai atau ditutup.")
        return found

    async def send_reply(found: ComplaintStatusView, message_id: str, text: str) -> CitizenReplied:
        reply = CitizenReplied(
            reply_id=citizen_reply_id_for(Channel.WEB, f"{message_id}:{found.tracking_code}"),
            complaint_id=found.complaint_id, tracking_code=found.tracking_code, channel=Channel.WEB, text=text,
            received_at=datetime.now(UTC), producer=SERVICE, correlation_id=found.complaint_id)
        await kit.publish_citizen_reply(reply)  # a broker outage answers 503; sending again is safe
        return reply

    @app.post("/status/balas", response_class=HTMLResponse, include_in_schema=False)
    async def reply_form(request: Request) -> HTMLResponse:
        if wait := rate_limited(request):
            return too_many_page(request, wait)
        form = await posted_form(request, max_files=0, max_fields=10,
                                 again="Muat ulang halaman status, lalu kirim balasan sekali lagi.")
        if isinstance(form, HTMLResponse):
            return form
        try:
            found = await replyable(normalise_tracking_code(str(form.get("kode") or "")))
        except NotReplyable as refused:
            return problem(request, refused.status, "Balasan tidak dapat dikirim", refused.message)
        try:
            text = clean_text(str(form.get("pesan") or ""), MAX_REPLY)
        except InvalidText:
            text = ""
        if len(text) < MIN_TEXT:
            return status_page_with_reply_form(request, found, 422, reply_error=(
                f"Balasan terlalu pendek (paling sedikit {MIN_TEXT} karakter)."), reply_text=text)
        await send_reply(found, scoped("form", submission_id_of(form), found.tracking_code, text), text)
        return page(request, "reply_sent.html", tracking_code=found.tracking_code)

    @app.post("/api/v1/complaints", status_code=202, response_model=Accepted,
              responses={415: {"description": "not JSON"}, 422: {"description": "invalid fields, with reasons"},
                         429: {"description": "too many submissions from this client"},
                         503: {"description": "Kafka unavailable; retry with the same Idempotency-Key"}})
    async def submit_complaint(request: Request, form: ComplaintForm,
                               idempotency_key: str | None = Header(default=None, max_length=200)):
        """Answers only after Kafka acknowledged the complaint. Send an Idempotency-Key to make retries safe."""
        if wait := rate_limited(request):
            return too_many_json(wait)
        phone = None
        if form.phone:
            phone = to_e164(form.phone)
            if phone is None:
                return kit.reject("invalid_phone", "Nomor telepon tidak valid.")
        text = clean_text(form.text, MAX_TEXT)
        if len(text) < MIN_TEXT:  # counted as the form counts: spaces and control characters are no content
            return kit.reject("text_too_short", f"Isi aduan terlalu pendek (paling sedikit {MIN_TEXT} karakter).")
        reporter = Reporter(name=form.name, phone=phone, email=form.email)
        event = ComplaintReceived.new(
            channel=Channel.WEB, text=text, producer=SERVICE, anonymity=form.anonymity, category=form.category,
            channel_message_id=scoped("api", idempotency_key or str(uuid.uuid4()), text, reporter, form.anonymity,
                                      form.category),
            reporter=reporter)
        await accept(event)
        return Accepted(complaint_id=event.complaint_id, tracking_code=event.tracking_code,
                        status_url=f"/api/v1/complaints/{event.tracking_code}")

    @app.get("/api/v1/complaints/{tracking_code}", response_model=ComplaintStatusView,
             responses={400: {"description": "not a tracking code"}, 404: {"description": "no such complaint"}})
    async def complaint_status(tracking_code: str):
        """Where the complaint stands and every step so far. Never the reporter's identity nor the text."""
        code = normalise_tracking_code(tracking_code)
        if code is None:
            return kit.reject("invalid_tracking_code", "Kode lacak tidak valid (10 huruf/angka, mis. ABCDE-12345).",
                              status=400)
        found = await state["status"].find(code)
        if found is None:
            return JSONResponse(status_code=404, content={"detail": "Kode lacak tidak ditemukan.",
                                                          "reason": "not_found"})
        return found

    @app.post("/api/v1/complaints/{tracking_code}/replies", status_code=202, response_model=ReplyAccepted,
              responses={400: {"description": "not a tracking code"}, 404: {"description": "no such complaint"},
                         409: {"description": "no response to reply to yet, or already done or closed"},
                         415: {"description": "not JSON"}, 422: {"description": "invalid fields, with reasons"},
                         429: {"description": "too many submissions from this client"},
                         503: {"description": "Kafka unavailable; retry with the same Idempotency-Key"}})
    async def reply_to_response(request: Request, tracking_code: str, form: ReplyForm,
                                idempotency_key: str | None = Header(default=None, max_length=200)):
        """The citizen writes back after the unit's response: the complaint stays open and the unit
        answers again. Anyone holding the tracking code may reply, as anyone holding it sees the status."""
        if wait := rate_limited(request):
            return too_many_json(wait)
        try:
            found = await replyable(normalise_tracking_code(tracking_code))
        except NotReplyable as refused:
            return kit.reject(refused.reason, refused.message, status=refused.status)
        text = clean_text(form.text, MAX_REPLY)
        if len(text) < MIN_TEXT:
            return kit.reject("text_too_short", f"Balasan terlalu pendek (paling sedikit {MIN_TEXT} karakter).")
        reply = await send_reply(found, scoped("api", idempotency_key or str(uuid.uuid4()), found.tracking_code,
                                               text), text)
        return ReplyAccepted(reply_id=reply.reply_id, tracking_code=found.tracking_code,
                             status_url=f"/api/v1/complaints/{found.tracking_code}")

    return app
