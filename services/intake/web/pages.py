"""The citizen's pages: the complaint form (works without JavaScript), the status page and its reply form."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from services.intake.web import csrf
from services.intake.web.form import (
    MAX_ADDRESS,
    MAX_PHOTO_BYTES,
    MAX_TEXT,
    MIN_TEXT,
    read_submission,
    submission_id_of,
)
from services.intake.web.intake import MAX_REPLY, SERVICE, NotReplyable, WebIntake, scoped, web_intake
from services.intake.web.status import ComplaintStatusView
from shared.channel_kit import InvalidText, clean_text
from shared.contracts import Channel, ComplaintReceived, normalise_tracking_code
from shared.places import areas
from shared.statuses import CITIZEN_MAY_REPLY

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)
FORM_WAIT_SECONDS = 10.0  # for a turn to read a form, before "busy, try again"
BUSY_RETRY_AFTER_SECONDS = 10
CSRF_COOKIE_SECONDS = 24 * 3600


def page(web: WebIntake, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return web.templates.TemplateResponse(request, name, context, status_code=status)


def problem(web: WebIntake, request: Request, status: int, heading: str, message: str,
            **headers: str) -> HTMLResponse:
    response = page(web, request, "problem.html", status, heading=heading, message=message)
    response.headers.update(headers)
    return response


def too_many(web: WebIntake, request: Request, wait: float) -> HTMLResponse:
    return problem(web, request, 429, "Terlalu banyak kiriman", "Mohon tunggu sebentar sebelum mengirim lagi.",
                   **{"Retry-After": str(int(wait) + 1)})


def page_with_form(web: WebIntake, request: Request, name: str, status: int = 200,
                   submission_id: str | None = None, **context: Any) -> HTMLResponse:
    """A page with a form: its CSRF token (also set as the cookie it must match) and its own id."""
    token = request.cookies.get(csrf.COOKIE)
    if not csrf.is_valid(web.csrf_secret, token, token):
        token = csrf.new_token(web.csrf_secret)
    response = page(web, request, name, status, csrf_token=token, submission_id=submission_id or str(uuid.uuid4()),
                    **context)
    response.set_cookie(csrf.COOKIE, token, httponly=True, samesite="strict", secure=web.settings.secure_cookies,
                        max_age=CSRF_COOKIE_SECONDS)
    return response


def form_page(web: WebIntake, request: Request, status: int = 200, values: dict[str, Any] | None = None,
              errors: dict[str, str] | None = None, submission_id: str | None = None) -> HTMLResponse:
    return page_with_form(web, request, "form.html", status, submission_id, values=values or {}, errors=errors or {},
                          min_text=MIN_TEXT, max_text=MAX_TEXT, max_photo_mb=MAX_PHOTO_BYTES // (1024 * 1024),
                          areas=areas(), max_address=MAX_ADDRESS)


def status_page_with_reply_form(web: WebIntake, request: Request, found: ComplaintStatusView, status: int = 200,
                                **context: Any) -> HTMLResponse:
    return page_with_form(web, request, "status.html", status, code=found.tracking_code, found=found,
                          can_reply=found.status in CITIZEN_MAY_REPLY, max_reply=MAX_REPLY, **context)


async def posted_form(web: WebIntake, request: Request, *, max_files: int, max_fields: int, again: str,
                      ) -> FormData | HTMLResponse:
    """The posted form once it is readable and carries this browser's CSRF token; else the page saying so
    (`again`: what to do about an expired form)."""
    try:
        form = await request.form(max_files=max_files, max_fields=max_fields)
    except Exception as error:  # malformed multipart, too many parts
        log.info("form_unreadable", error=repr(error))
        return problem(web, request, 400, "Formulir tidak terbaca", "Formulir rusak atau tidak lengkap.")
    if not csrf.is_valid(web.csrf_secret, request.cookies.get(csrf.COOKIE), str(form.get(csrf.FIELD) or "")):
        return problem(web, request, 403, "Sesi formulir kedaluwarsa", again)
    return form


@router.get("/", response_class=HTMLResponse)
async def complaint_form(request: Request, web: WebIntake = Depends(web_intake)) -> HTMLResponse:
    return form_page(web, request)


@router.post("/aduan", response_class=HTMLResponse)
async def submit_form(request: Request, web: WebIntake = Depends(web_intake)) -> HTMLResponse:
    try:
        async with asyncio.timeout(FORM_WAIT_SECONDS):
            await web.forms_in_hand.acquire()
    except TimeoutError:
        return problem(web, request, 503, "Sedang sibuk", "Banyak aduan sedang dikirim; coba lagi sebentar lagi.",
                       **{"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)})
    try:
        return await take_form(web, request)
    finally:
        web.forms_in_hand.release()


async def take_form(web: WebIntake, request: Request) -> HTMLResponse:
    if wait := web.rate_limited(request):
        return too_many(web, request, wait)
    if not request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                                 "application/x-www-form-urlencoded")):
        return problem(web, request, 415, "Format tidak didukung", "Kirim aduan lewat formulir di halaman ini.")
    form = await posted_form(web, request, max_files=1, max_fields=20,
                             again="Muat ulang halaman formulir, lalu kirim aduan sekali lagi.")
    if isinstance(form, HTMLResponse):
        return form
    submission = await read_submission(form)
    if submission.errors:
        return form_page(web, request, 422, submission.values, submission.errors, submission.submission_id)
    event = ComplaintReceived.new(
        channel=Channel.WEB, text=submission.text, producer=SERVICE, anonymity=submission.anonymity,
        channel_message_id=scoped("form", submission.submission_id, submission.text, submission.reporter,
                                  submission.anonymity, submission.location, submission.place),
        reporter=submission.reporter, location=submission.location, place=submission.place)
    reference = None
    if submission.photo:
        try:  # the photo first: a complaint is never published pointing at evidence that is not stored
            reference = await web.evidence.put(event.complaint_id, submission.photo.data, submission.photo.mime_type)
        except Exception as error:  # the store away or refusing: the form, sent again, is the same complaint
            log.warning("evidence_not_stored", error=type(error).__name__)
            return problem(web, request, 503, "Sedang sibuk", "Foto belum dapat disimpan; kirim lagi sebentar lagi.",
                           **{"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)})
    event = event.model_copy(update={"attachments": submission.attachments(reference)})
    await web.accept(event)  # a broker outage answers 503 here; the form can be sent again safely
    return page(web, request, "confirmation.html", tracking_code=event.tracking_code, text=event.text,
                photo=bool(reference))


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, kode: str = "", web: WebIntake = Depends(web_intake)) -> HTMLResponse:
    if not kode:
        return page(web, request, "status.html", code="")
    code = normalise_tracking_code(kode)
    if code is None:
        return page(web, request, "status.html", 400, code=kode,
                    message="Kode lacak tidak valid: 10 huruf/angka, mis. ABCDE-12345.")
    found = await web.status.find(code)
    if found is None:
        return page(web, request, "status.html", 404, code=kode, message="Kode lacak tidak ditemukan.")
    return status_page_with_reply_form(web, request, found)


@router.post("/status/balas", response_class=HTMLResponse)
async def reply_form(request: Request, web: WebIntake = Depends(web_intake)) -> HTMLResponse:
    if wait := web.rate_limited(request):
        return too_many(web, request, wait)
    form = await posted_form(web, request, max_files=0, max_fields=10,
                             again="Muat ulang halaman status, lalu kirim balasan sekali lagi.")
    if isinstance(form, HTMLResponse):
        return form
    try:
        found = await web.replyable(normalise_tracking_code(str(form.get("kode") or "")))
    except NotReplyable as refused:
        return problem(web, request, refused.status, "Balasan tidak dapat dikirim", refused.message)
    try:
        text = clean_text(str(form.get("pesan") or ""), MAX_REPLY)
    except InvalidText:
        text = ""
    if len(text) < MIN_TEXT:
        return status_page_with_reply_form(web, request, found, 422, reply_error=(
            f"Balasan terlalu pendek (paling sedikit {MIN_TEXT} karakter)."), reply_text=text)
    await web.send_reply(found, scoped("form", submission_id_of(form), found.tracking_code, text), text)
    return page(web, request, "reply_sent.html", tracking_code=found.tracking_code)
