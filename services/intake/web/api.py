"""The web intake's JSON API: file a complaint, read where it stands, reply to the unit's response."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, EmailStr, Field

from services.intake.web.form import MAX_TEXT, MIN_TEXT
from services.intake.web.intake import MAX_REPLY, SERVICE, NotReplyable, WebIntake, scoped, web_intake
from services.intake.web.status import ComplaintStatusView
from shared.categories import categories
from shared.channel_kit import clean_text
from shared.contracts import Anonymity, Channel, ComplaintReceived, Reporter, normalise_tracking_code
from shared.phone import to_e164

router = APIRouter(prefix="/api/v1/complaints")


class ComplaintForm(BaseModel):
    text: str = Field(min_length=MIN_TEXT, max_length=MAX_TEXT, description="isi aduan")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: EmailStr | None = None
    anonymity: Anonymity = Anonymity.NONE
    category: str | None = Field(default=None, max_length=100,
                                 description="kode kategori dari /open311/v2/services (shared/categories.yaml)")


class Accepted(BaseModel):
    complaint_id: str
    tracking_code: str
    status_url: str


class ReplyForm(BaseModel):
    text: str = Field(min_length=MIN_TEXT, max_length=MAX_REPLY, description="balasan atas tanggapan unit")


class ReplyAccepted(BaseModel):
    reply_id: str
    tracking_code: str
    status_url: str


def too_many(web: WebIntake, wait: float) -> JSONResponse:
    response = web.kit.reject("rate_limited", "Terlalu banyak kiriman; coba lagi nanti.", status=429)
    response.headers["Retry-After"] = str(int(wait) + 1)
    return response


@router.post("", status_code=202, response_model=Accepted,
             responses={415: {"description": "not JSON"}, 422: {"description": "invalid fields, with reasons"},
                        429: {"description": "too many submissions from this client"},
                        503: {"description": "Kafka unavailable; retry with the same Idempotency-Key"}})
async def submit_complaint(request: Request, form: ComplaintForm,
                           idempotency_key: str | None = Header(default=None, max_length=200),
                           web: WebIntake = Depends(web_intake)) -> Accepted | JSONResponse:
    """Answers only after Kafka acknowledged the complaint. Send an Idempotency-Key to make retries safe."""
    if wait := web.rate_limited(request):
        return too_many(web, wait)
    phone = None
    if form.phone:
        phone = to_e164(form.phone)
        if phone is None:
            return web.kit.reject("invalid_phone", "Nomor telepon tidak valid.")
    text = clean_text(form.text, MAX_TEXT)
    if len(text) < MIN_TEXT:  # counted as the form counts: spaces and control characters are no content
        return web.kit.reject("text_too_short", f"Isi aduan terlalu pendek (paling sedikit {MIN_TEXT} karakter).")
    category = form.category.strip().lower() if form.category else None
    if category is not None and category not in categories():  # a free text would route nowhere and mean nothing
        return web.kit.reject("unknown_category",
                              f"Kategori tidak dikenal; pilih salah satu: {', '.join(categories())}.")
    reporter = Reporter(name=form.name, phone=phone, email=form.email)
    event = ComplaintReceived.new(
        channel=Channel.WEB, text=text, producer=SERVICE, anonymity=form.anonymity, category=category,
        channel_message_id=scoped("api", idempotency_key or str(uuid.uuid4()), text, reporter, form.anonymity,
                                  category),
        reporter=reporter)
    await web.accept(event)
    return Accepted(complaint_id=event.complaint_id, tracking_code=event.tracking_code,
                    status_url=f"/api/v1/complaints/{event.tracking_code}")


@router.get("/{tracking_code}", response_model=ComplaintStatusView,
            responses={400: {"description": "not a tracking code"}, 404: {"description": "no such complaint"}})
async def complaint_status(tracking_code: str,
                           web: WebIntake = Depends(web_intake)) -> ComplaintStatusView | JSONResponse:
    """Where the complaint stands and every step so far. Never the reporter's identity nor the text."""
    code = normalise_tracking_code(tracking_code)
    if code is None:
        return web.kit.reject("invalid_tracking_code", "Kode lacak tidak valid (10 huruf/angka, mis. ABCDE-12345).",
                              status=400)
    found = await web.status.find(code)
    if found is None:
        return JSONResponse(status_code=404, content={"detail": "Kode lacak tidak ditemukan.", "reason": "not_found"})
    return found


@router.post("/{tracking_code}/replies", status_code=202, response_model=ReplyAccepted,
             responses={400: {"description": "not a tracking code"}, 404: {"description": "no such complaint"},
                        409: {"description": "no response to reply to yet, or already done or closed"},
                        415: {"description": "not JSON"}, 422: {"description": "invalid fields, with reasons"},
                        429: {"description": "too many submissions from this client"},
                        503: {"description": "Kafka unavailable; retry with the same Idempotency-Key"}})
async def reply_to_response(request: Request, tracking_code: str, form: ReplyForm,
                            idempotency_key: str | None = Header(default=None, max_length=200),
                            web: WebIntake = Depends(web_intake)) -> ReplyAccepted | JSONResponse:
    """The citizen writes back after the unit's response: the complaint stays open and the unit
    answers again. Anyone holding the tracking code may reply, as anyone holding it sees the status."""
    if wait := web.rate_limited(request):
        return too_many(web, wait)
    try:
        found = await web.replyable(normalise_tracking_code(tracking_code))
    except NotReplyable as refused:
        return web.kit.reject(refused.reason, refused.message, status=refused.status)
    text = clean_text(form.text, MAX_REPLY)
    if len(text) < MIN_TEXT:
        return web.kit.reject("text_too_short", f"Balasan terlalu pendek (paling sedikit {MIN_TEXT} karakter).")
    reply = await web.send_reply(found, scoped("api", idempotency_key or str(uuid.uuid4()), found.tracking_code,
                                               text), text)
    return ReplyAccepted(reply_id=reply.reply_id, tracking_code=found.tracking_code,
                         status_url=f"/api/v1/complaints/{found.tracking_code}")
