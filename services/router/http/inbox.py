"""The unit inbox: a small server-rendered site in Indonesian where a work unit sees its complaints,
overdue first, and acknowledges, responds, marks done, or hands one back as not its authority.

Sign-in: the unit's own credential (its token from ADUAN_ROUTER_UNIT_TOKENS; locked for a while after
repeated failures), or a signed, expiring, single-use link from a unit e-mail, which opens that one
complaint. Either gives a session kept in the router's database (services/router/http/inbox_sessions.py:
ended by signing out, by a new unit password, or by an operator) whose random id is the cookie
(HttpOnly, SameSite=Strict); the sign-in form and every other form carry a CSRF token. A unit sees
and changes only the complaints assigned to it now; any other answers 404, as if it did not
exist. The reporter's identity shows only when the reporter allowed it (`reporter_for_unit`).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import date
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from services.router.application.ports import NotFound
from services.router.dependencies import RouterDependencies, dependencies
from services.router.http.inbox_sessions import LINK_CREDENTIAL, LOCKOUT_MINUTES, Session, digest
from services.router.lifecycle import ASSIGNED, OPEN, STATUS_WORDS, TransitionRefused, UnitAction
from services.router.routing.assignment import ReassignmentRefused
from shared import unit_access
from shared.contracts import normalise_tracking_code
from shared.evidence import WHATSAPP_PREFIX, EvidenceMissing
from shared.images import IMAGE_TYPES, thumbnail
from shared.local_time import WIB, wib
from shared.statuses import ComplaintStatus

log = structlog.get_logger(__name__)
COOKIE = "aduan_unit"
SIGN_IN_COOKIE = "aduan_signin"
FORM_ACTIONS = {"terima": UnitAction.ACKNOWLEDGE, "tanggapi": UnitAction.RESPOND, "selesai": UnitAction.DONE}
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")  # services/router/templates
templates.env.globals["status_words"] = STATUS_WORDS
templates.env.filters["wib"] = wib


class _SignIn(Exception):
    """No valid session: the browser goes to the sign-in page."""


router = APIRouter(include_in_schema=False)


def add_inbox(api: FastAPI) -> None:
    api.include_router(router)
    api.add_exception_handler(_SignIn, to_sign_in)


async def to_sign_in(request: Request, _: Exception) -> RedirectResponse:
    return RedirectResponse("/unit/masuk", status_code=303)


def key_of(deps: RouterDependencies) -> str:
    return deps.settings.inbox_secret.get_secret_value()


def password_of(deps: RouterDependencies, unit: str) -> str:
    """What a password session remembers of the password: a new password ends the old sessions."""
    token = deps.settings.unit_tokens.get(unit)
    return digest(f"{unit}\n{token.get_secret_value()}") if token else ""


def enabled(deps: RouterDependencies = Depends(dependencies)) -> RouterDependencies:
    if not key_of(deps):
        raise HTTPException(404, "kotak masuk unit belum diaktifkan (ADUAN_ROUTER_INBOX_SECRET)")
    return deps


async def session(request: Request, deps: RouterDependencies = Depends(enabled)) -> Session:
    found = await deps.sessions.find(request.cookies.get(COOKIE, ""))
    if found is None or (found.credential != LINK_CREDENTIAL and found.credential != password_of(deps, found.unit)):
        raise _SignIn()
    return found


async def checked_form(request: Request, csrf: str = Form(""), grant: Session = Depends(session),
                       deps: RouterDependencies = Depends(dependencies)) -> Session:
    expected = unit_access.csrf_token(key_of(deps), request.cookies.get(COOKIE, ""))
    if not secrets.compare_digest(csrf.encode(), expected.encode()):
        raise HTTPException(403, "formulir kedaluwarsa atau bukan dari halaman ini; muat ulang halaman")
    return grant


async def signed_in(deps: RouterDependencies, response: RedirectResponse, unit: str, scope: str | None,
                    credential: str) -> RedirectResponse:
    hours = deps.settings.inbox_session_hours
    session_id = await deps.sessions.open(unit, scope, credential, hours)
    response.set_cookie(COOKIE, session_id, max_age=int(hours * 3600), httponly=True, samesite="strict",
                        secure=deps.settings.inbox_cookie_secure, path="/unit")
    response.delete_cookie(SIGN_IN_COOKIE, path="/unit")
    return response


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def sign_in_page(deps: RouterDependencies, request: Request, status: int = 200, error: str | None = None,
                 ) -> HTMLResponse:
    """With a fresh pre-session token in a cookie and in the form: a sign-in posted from another site
    (which would sign the unit's browser into the attacker's session) carries no cookie."""
    token = secrets.token_urlsafe(24)
    response = page(request, "inbox_sign_in.html", status, error=error, signin=token)
    response.set_cookie(SIGN_IN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=deps.settings.inbox_cookie_secure, path="/unit")
    return response


@router.get("/unit/masuk", response_class=HTMLResponse)
async def sign_in_form(request: Request, deps: RouterDependencies = Depends(enabled)) -> HTMLResponse:
    return sign_in_page(deps, request)


@router.post("/unit/masuk")
async def sign_in(request: Request, unit: str = Form(""), token: str = Form(""), signin: str = Form(""),
                  deps: RouterDependencies = Depends(enabled)) -> Response:
    expected_signin = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected_signin or not secrets.compare_digest(signin.encode(), expected_signin.encode()):
        return sign_in_page(deps, request, 403, "Halaman masuk kedaluwarsa. Silakan coba lagi.")
    unit = unit.strip()
    if await deps.sessions.locked(unit):
        return sign_in_page(deps, request, 429, f"Terlalu banyak percobaan masuk untuk unit ini. Coba lagi dalam "
                                                f"{LOCKOUT_MINUTES} menit, atau buka tautan di e-mail aduan.")
    found = None
    for code, expected in deps.settings.unit_tokens.items():  # every comparison runs: no timing hint
        value = expected.get_secret_value()
        if value and secrets.compare_digest(token.encode(), value.encode()) and code == unit:
            found = code
    if found is None:
        await deps.sessions.failed(unit)
        return sign_in_page(deps, request, 401, "Kode unit atau kata sandi salah.")
    return await signed_in(deps, RedirectResponse("/unit", status_code=303), found, None, password_of(deps, found))


@router.get("/unit/tautan")
async def link_page(request: Request, t: str = "", deps: RouterDependencies = Depends(enabled)) -> Response:
    """A page with a button, not the complaint: mail scanners open every link in a message, and the link
    opens once."""
    if unit_access.verify(key_of(deps), unit_access.LINK, t) is None:
        return sign_in_page(deps, request, 403, "Tautan tidak sah atau sudah kedaluwarsa. Silakan masuk dengan "
                                                "kata sandi unit.")
    return page(request, "inbox_link.html", token=t)


@router.post("/unit/tautan")
async def open_link(request: Request, t: str = Form(""), deps: RouterDependencies = Depends(enabled)) -> Response:
    grant = unit_access.verify(key_of(deps), unit_access.LINK, t)
    if grant is None or not await deps.sessions.use_link(t):
        return sign_in_page(deps, request, 403, "Tautan tidak sah, sudah kedaluwarsa, atau sudah dipakai. "
                                                "Silakan masuk dengan kata sandi unit.")
    return await signed_in(deps, RedirectResponse(f"/unit/aduan/{grant.subject}", status_code=303), grant.unit,
                           grant.subject, LINK_CREDENTIAL)


@router.post("/unit/keluar")
async def sign_out(request: Request, _: Session = Depends(checked_form),
                   deps: RouterDependencies = Depends(dependencies)) -> RedirectResponse:
    await deps.sessions.end(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/unit/masuk", status_code=303)
    response.delete_cookie(COOKIE, path="/unit")
    return response


@router.get("/unit", response_class=HTMLResponse)
async def inbox(request: Request, grant: Session = Depends(session),
                deps: RouterDependencies = Depends(dependencies)) -> Response:
    if grant.scope:  # opened from an e-mail link: that complaint only
        return RedirectResponse(f"/unit/aduan/{grant.scope}", status_code=303)
    today = deps.clock().astimezone(WIB).date()
    rows = [with_due(row, today) for row in await deps.repository.inbox(grant.unit)]
    open_rows = sorted((r for r in rows if r["status"] in OPEN),
                       key=lambda r: (not r["overdue"], r["due"] or date.max, r["received_at"]))
    finished = [r for r in rows if r["status"] not in OPEN]
    return page(request, "inbox.html", unit=deps.live.current.unit(grant.unit), open_rows=open_rows,
                finished=finished, csrf=unit_access.csrf_token(key_of(deps), request.cookies.get(COOKIE, "")))


@router.get("/unit/aduan/{ref}", response_class=HTMLResponse)
async def complaint(request: Request, ref: str, grant: Session = Depends(session),
                    deps: RouterDependencies = Depends(dependencies)) -> HTMLResponse:
    try:
        found = await deps.repository.complaint_for_unit(in_scope(normalise_tracking_code(ref) or ref, grant),
                                                         grant.unit)
    except NotFound:
        return page(request, "inbox_problem.html", 404, message="Aduan tidak ditemukan di kotak masuk unit Anda.")
    today = deps.clock().astimezone(WIB).date()
    duplicates = await deps.repository.possible_duplicates(found["complaint_id"], grant.unit)  # its own only
    return page(request, "inbox_complaint.html", c=with_due(found, today), a=found["assignment"],
                duplicates=duplicates, duplicate_base="/unit/aduan/", merge=True,
                open_statuses={str(s) for s in OPEN},
                changes=found["changes"], csrf=unit_access.csrf_token(key_of(deps), request.cookies.get(COOKIE, "")),
                can_act=found["status"] in OPEN and not found["merged_into"],
                can_acknowledge=found["status"] == ASSIGNED,
                is_triage=grant.unit == deps.live.current.registry.fallback)


# What a browser may show from our origin; anything else is only downloaded, so a "photo" that is really
# HTML or SVG can never run script on the inbox's origin.
INLINE_TYPES = {"image/jpeg", "image/png", "image/webp", "audio/ogg", "audio/mpeg", "audio/aac", "audio/mp4",
                "audio/amr", "application/pdf"}
THUMBNAIL_PIXELS = 320


@router.get("/unit/aduan/{ref}/lampiran/{index}")
async def attachment(request: Request, ref: str, index: int, ukuran: str = "", grant: Session = Depends(session),
                     deps: RouterDependencies = Depends(dependencies)) -> Response:
    """An attachment of a complaint of this unit's, from the evidence store; `ukuran=kecil`: a thumbnail."""
    code = normalise_tracking_code(ref) or ref
    if grant.scope and code != grant.scope:  # a link session sees its own complaint, nothing else
        return page(request, "inbox_problem.html", 404, message="Lampiran tidak ditemukan.")
    return await evidence_answer(request, deps, code, grant.unit, index, ukuran == "kecil")


async def evidence_answer(request: Request, deps: RouterDependencies, code: str, unit: str | None, index: int,
                          small: bool) -> Response:
    """Attachment `index` of complaint `code` if `unit` has it (None: any unit, for the back-office)."""
    try:
        found = await deps.repository.complaint_for_unit(code, unit)
        attachments = found["assignment"].attachments
        if not 0 <= index < len(attachments):
            raise NotFound(code)
        reference = attachments[index].reference
        evidence = await deps.evidence.get(reference, found["assignment"].complaint_id)
    except NotFound:
        return page(request, "inbox_problem.html", 404, message="Lampiran tidak ditemukan.")
    except EvidenceMissing:  # WhatsApp media is fetched from Meta by the notifier, seconds after routing
        waiting = reference.startswith(WHATSAPP_PREFIX)
        return page(request, "inbox_problem.html", 404, message="Lampiran sedang diambil dari WhatsApp; coba lagi "
                    "sebentar lagi." if waiting else "Lampiran tidak ditemukan.")
    except Exception as error:  # the store away: the page says so, the reader tries again
        log.warning("evidence_unavailable", error=type(error).__name__)
        return page(request, "inbox_problem.html", 503, message="Lampiran sedang tidak dapat diambil; coba lagi.")
    data, content_type = evidence.data, evidence.content_type
    if small and content_type in IMAGE_TYPES:
        data, content_type = await asyncio.to_thread(thumbnail, data, THUMBNAIL_PIXELS), "image/jpeg"
    inline = content_type in INLINE_TYPES
    return Response(data, media_type=content_type if inline else "application/octet-stream", headers={
        "Content-Disposition": "inline" if inline else f'attachment; filename="lampiran-{index + 1}"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.post("/unit/aduan/{ref}/gabung")
async def merge(request: Request, ref: str, ke: str = Form(""), grant: Session = Depends(checked_form),
                deps: RouterDependencies = Depends(dependencies)) -> Response:
    """One click on a possible duplicate: the later of the two follows the earlier."""
    code = normalise_tracking_code(ref) or ref
    other = normalise_tracking_code(ke) or ke
    try:
        in_scope(code, grant)
        in_scope(other, grant)
        _, surviving = await deps.casework.merge(code, other, actor=f"unit:{grant.unit}", unit_code=grant.unit)
    except NotFound:
        return page(request, "inbox_problem.html", 404, message="Aduan tidak ditemukan di kotak masuk unit Anda.")
    except TransitionRefused as error:
        return _refused(request, code, str(error))
    return RedirectResponse(f"/unit/aduan/{surviving}", status_code=303)


@router.post("/unit/aduan/{ref}/{action}")
async def act(request: Request, ref: str, action: str, pesan: str = Form(""),
              grant: Session = Depends(checked_form), deps: RouterDependencies = Depends(dependencies)) -> Response:
    code = normalise_tracking_code(ref) or ref
    message = pesan.strip() or None
    actor = f"unit:{grant.unit}"
    try:
        in_scope(code, grant)
        if action == "bukan-wewenang":
            if not message or len(message) < 5:
                return _refused(request, code, "Tuliskan alasan mengapa aduan ini bukan wewenang unit Anda.")
            await deps.casework.hand_back(code, actor=actor, unit_code=grant.unit, reason=message)
            return RedirectResponse("/unit", status_code=303)
        step = FORM_ACTIONS.get(action)
        if step is None:
            raise NotFound(code)
        if step is UnitAction.RESPOND and (not message or len(message) < 5):
            return _refused(request, code, "Tanggapan untuk pelapor tidak boleh kosong.")
        await deps.casework.act(code, step, actor=actor, unit_code=grant.unit, message=message)
    except NotFound:
        return page(request, "inbox_problem.html", 404, message="Aduan tidak ditemukan di kotak masuk unit Anda.")
    except (TransitionRefused, ReassignmentRefused) as error:
        return _refused(request, code, str(error))
    return RedirectResponse(f"/unit/aduan/{code}", status_code=303)


def in_scope(code: str, grant: Session) -> str:
    """The code, if this session may see it: a link session sees its own complaint, nothing else."""
    if grant.scope and code != grant.scope:
        raise NotFound(code)
    return code


def _refused(request: Request, code: str, message: str) -> HTMLResponse:
    return page(request, "inbox_problem.html", 409, message=message, back=f"/unit/aduan/{code}")


def with_due(row: dict, today: date) -> dict:
    """The deadline that matters now: the follow-up while open, the automatic closure once answered,
    the answer to the citizen's reply."""
    status = row["status"]
    due = {ASSIGNED: row["follow_up_due"], ComplaintStatus.ACKNOWLEDGED: row["follow_up_due"],
           ComplaintStatus.RESPONDED: row["close_due"], ComplaintStatus.REPLIED: row["answer_due"]}.get(status)
    return {**row, "due": due, "overdue": due is not None and due < today and status != ComplaintStatus.RESPONDED}
