"""The PPID back-office (/ppid): server-rendered pages in Indonesian where the PPID secretariat clears the
triage queue (complaints no rule placed, and complaints units handed back as not their authority) by
assigning each to the unit that must handle it, with a reason recorded and published as the JSON API's
reassignment is.

Operators are not units. They sign in with their name and password (their token in
ADUAN_ROUTER_OPERATOR_TOKENS); their role comes from ADUAN_ROUTER_OPERATOR_ROLES ("sekretariat" unless
named "admin"), read at each request, so a changed role counts at once. Sessions live in the router's
database in the operator realm (inbox_sessions.py): the cookie is a random id, HttpOnly, SameSite=Strict,
on /ppid only, so a unit's inbox cookie never reaches these pages and an operator's never reaches the
inbox. Every form carries a CSRF token; repeated failed sign-ins lock that operator's sign-in for a while.

Identity rules are the units': the reporter's contact shows only where the reporter allowed it
(`reporter_for_unit`), and each time it is shown is recorded (who, when, which complaint) for the
administrators' page /ppid/akses-kontak.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from services.router import reports
from services.router.application.casework import HANDED_BACK
from services.router.application.ports import NotFound, SearchCriteria
from services.router.dependencies import RouterDependencies, dependencies
from services.router.http.inbox import enabled, evidence_answer, key_of, page, templates, with_due
from services.router.http.inbox_sessions import LOCKOUT_MINUTES, Session, digest
from services.router.lifecycle import OPEN, STATUS_WORDS, TransitionRefused, UnitAction
from services.router.routing.assignment import ReassignmentRefused
from shared import unit_access
from shared.contracts import ComplaintAssigned, EscalationStage, normalise_tracking_code
from shared.local_time import WIB, wib
from shared.places import areas
from shared.statuses import ComplaintStatus

log = structlog.get_logger(__name__)
COOKIE = "aduan_ppid"
SIGN_IN_COOKIE = "aduan_ppid_signin"
SECRETARIAT, ADMIN = "sekretariat", "admin"
ROLE_WORDS = {SECRETARIAT: "Sekretariat PPID", ADMIN: "Administrator"}
NOT_A_COMPLAINT = "Bukan aduan: "  # how the outcome of a dismissed message begins
ESCALATION_WORDS = {EscalationStage.FORWARD: "belum diterima unit", EscalationStage.FOLLOW_UP: "belum ditindaklanjuti",
                    EscalationStage.REPLY: "balasan pelapor belum dijawab"}
templates.env.filters["escalation_word"] = lambda stage: ESCALATION_WORDS.get(stage, stage)
DELIVERY_WORDS = {  # job kinds of the notifier and lapor_sync, as the secretariat reads them
    "unit_email": "e-mail ke unit", "unit_reply_email": "e-mail balasan pelapor ke unit",
    "unit_webhook": "webhook unit", "citizen_ack": "tanda terima ke pelapor", "citizen_reply": "pesan ke pelapor",
    "citizen_status": "kabar status ke pelapor", "escalation_email": "e-mail eskalasi",
    "whatsapp_template": "templat WhatsApp ke pelapor", "whatsapp_media": "ambil lampiran WhatsApp",
    "lapor_create": "laporan SP4N-LAPOR!", "lapor_follow_up": "tindak lanjut SP4N-LAPOR!",
    "lapor_status": "status SP4N-LAPOR!"}
OUTCOME_WORDS = {"pending": "menunggu / dicoba lagi", "done": "terkirim", "dead": "gagal (dead letter)"}
templates.env.filters["iso_wib"] = lambda moment: wib(datetime.fromisoformat(moment))

router = APIRouter(include_in_schema=False)


class _SignIn(Exception):
    """No valid operator session: the browser goes to the back-office's sign-in page."""


def add_back_office(api: FastAPI) -> None:
    api.include_router(router)
    api.add_exception_handler(_SignIn, to_sign_in)


async def to_sign_in(request: Request, _: Exception) -> RedirectResponse:
    return RedirectResponse("/ppid/masuk", status_code=303)


def role_of(deps: RouterDependencies, name: str) -> str:
    return ADMIN if deps.settings.operator_roles.get(name) == ADMIN else SECRETARIAT


def password_of(deps: RouterDependencies, name: str) -> str:
    """What a session remembers of the operator's password: a new password ends the old sessions."""
    token = deps.settings.operator_tokens.get(name)
    return digest(f"operator\n{name}\n{token.get_secret_value()}") if token else ""


async def operator(request: Request, deps: RouterDependencies = Depends(enabled)) -> Session:
    found = await deps.operator_sessions.find(request.cookies.get(COOKIE, ""))
    if found is None or found.credential != password_of(deps, found.unit):
        raise _SignIn()
    return found


async def checked_form(request: Request, csrf: str = Form(""), who: Session = Depends(operator),
                       deps: RouterDependencies = Depends(dependencies)) -> Session:
    expected = unit_access.csrf_token(key_of(deps), "ppid\n" + request.cookies.get(COOKIE, ""))
    if not secrets.compare_digest(csrf.encode(), expected.encode()):
        raise HTTPException(403, "formulir kedaluwarsa atau bukan dari halaman ini; muat ulang halaman")
    return who


def office_page(request: Request, deps: RouterDependencies, who: Session, name: str, status: int = 200,
                **context: Any) -> HTMLResponse:
    return page(request, name, status, operator=who.name, role=ROLE_WORDS[role_of(deps, who.name)],
                is_admin=role_of(deps, who.name) == ADMIN,
                csrf=unit_access.csrf_token(key_of(deps), "ppid\n" + request.cookies.get(COOKIE, "")), **context)


def sign_in_page(deps: RouterDependencies, request: Request, status: int = 200, error: str | None = None,
                 ) -> HTMLResponse:
    token = secrets.token_urlsafe(24)  # login CSRF: a sign-in posted from another site carries no cookie
    response = page(request, "ppid_sign_in.html", status, error=error, signin=token)
    response.set_cookie(SIGN_IN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=deps.settings.inbox_cookie_secure, path="/ppid")
    return response


@router.get("/ppid/masuk", response_class=HTMLResponse)
async def sign_in_form(request: Request, deps: RouterDependencies = Depends(enabled)) -> HTMLResponse:
    return sign_in_page(deps, request)


@router.post("/ppid/masuk")
async def sign_in(request: Request, name: str = Form(""), password: str = Form(""), signin: str = Form(""),
                  deps: RouterDependencies = Depends(enabled)) -> Response:
    expected_signin = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected_signin or not secrets.compare_digest(signin.encode(), expected_signin.encode()):
        return sign_in_page(deps, request, 403, "Halaman masuk kedaluwarsa. Silakan coba lagi.")
    name = name.strip()
    if await deps.operator_sessions.locked(name):
        return sign_in_page(deps, request, 429, f"Terlalu banyak percobaan masuk untuk nama ini. Coba lagi dalam "
                                                f"{LOCKOUT_MINUTES} menit.")
    found = None
    for operator_name, expected in deps.settings.operator_tokens.items():  # every comparison runs: no timing hint
        value = expected.get_secret_value()
        if value and secrets.compare_digest(password.encode(), value.encode()) and operator_name == name:
            found = operator_name
    if found is None:
        await deps.operator_sessions.failed(name)
        return sign_in_page(deps, request, 401, "Nama atau kata sandi salah.")
    hours = deps.settings.inbox_session_hours
    session_id = await deps.operator_sessions.open(found, None, password_of(deps, found), hours)
    log.info("operator_signed_in", role=role_of(deps, found))  # who: in the sessions table, not in logs
    response = RedirectResponse("/ppid", status_code=303)
    response.set_cookie(COOKIE, session_id, max_age=int(hours * 3600), httponly=True, samesite="strict",
                        secure=deps.settings.inbox_cookie_secure, path="/ppid")
    response.delete_cookie(SIGN_IN_COOKIE, path="/ppid")
    return response


@router.post("/ppid/keluar")
async def sign_out(request: Request, _: Session = Depends(checked_form),
                   deps: RouterDependencies = Depends(dependencies)) -> RedirectResponse:
    await deps.operator_sessions.end(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/ppid/masuk", status_code=303)
    response.delete_cookie(COOKIE, path="/ppid")
    return response


@router.get("/ppid", response_class=HTMLResponse)
async def triage_queue(request: Request, who: Session = Depends(operator),
                       deps: RouterDependencies = Depends(dependencies)) -> HTMLResponse:
    """Complaints at the fallback unit, oldest first: no rule placed them, or a unit handed them back."""
    today = deps.clock().astimezone(WIB).date()
    fallback = deps.live.current.registry.fallback
    rows = [with_due(row, today) for row in await deps.repository.inbox(fallback)]
    waiting = sorted((r for r in rows if r["status"] in OPEN and in_triage(r["assignment"])),
                     key=lambda r: r["received_at"])
    return office_page(request, deps, who, "ppid_queue.html", rows=waiting)


def in_triage(assignment: ComplaintAssigned) -> bool:
    """At the fallback unit because no rule placed it or a unit handed it back; not a complaint a rule or an
    operator sent to that unit as the one to handle it (the fallback unit, Diskominfo, is also a unit)."""
    return assignment.is_fallback or (assignment.reason or "").startswith(HANDED_BACK)


@router.get("/ppid/aduan/{ref}", response_class=HTMLResponse)
async def complaint(request: Request, ref: str, who: Session = Depends(operator),
                    deps: RouterDependencies = Depends(dependencies)) -> HTMLResponse:
    code = normalise_tracking_code(ref) or ref
    try:
        found = await deps.repository.complaint_for_unit(code, None)
    except NotFound:
        return office_page(request, deps, who, "ppid_problem.html", 404, message="Aduan tidak ditemukan.")
    assignment = found["assignment"]
    if assignment.reporter_for_unit is not None:
        await deps.repository.contact_viewed(who.name, found["complaint_id"])
        log.info("reporter_contact_viewed", tracking_code=found["tracking_code"])  # who: in contact_views
    registry = deps.live.current.registry
    units = [u for u in registry.units if u.code != assignment.unit.code]
    today: date = deps.clock().astimezone(WIB).date()
    guesses = deps.live.current.guesses(assignment.text, assignment.channel, other_than=assignment.unit.code)
    record = await deps.delivery_records.of(found["complaint_id"])
    duplicates = await deps.repository.possible_duplicates(found["complaint_id"], None)
    return office_page(request, deps, who, "ppid_complaint.html", c=with_due(found, today), a=assignment,
                       duplicates=duplicates, duplicate_base="/ppid/aduan/",
                       changes=found["changes"], assignments=await deps.repository.history(code), units=units,
                       fallback=registry.fallback, can_act=found["status"] in OPEN, guesses=guesses, record=record,
                       delivery_words=DELIVERY_WORDS, outcome_words=OUTCOME_WORDS,
                       unit_names={u.code: u.name for u in registry.units})


@router.get("/ppid/aduan/{ref}/lampiran/{index}")
async def attachment(request: Request, ref: str, index: int, ukuran: str = "", _: Session = Depends(operator),
                     deps: RouterDependencies = Depends(dependencies)) -> Response:
    return await evidence_answer(request, deps, normalise_tracking_code(ref) or ref, None, index, ukuran == "kecil")


@router.post("/ppid/aduan/{ref}/alihkan")
async def reassign(request: Request, ref: str, unit: str = Form(""), alasan: str = Form(""),
                   who: Session = Depends(checked_form), deps: RouterDependencies = Depends(dependencies)) -> Response:
    code, reason = normalise_tracking_code(ref) or ref, alasan.strip()
    back = f"/ppid/aduan/{code}"
    if deps.live.current.registry.get(unit) is None:
        return office_page(request, deps, who, "ppid_problem.html", 422, message="Pilih unit tujuan.", back=back)
    if len(reason) < 5:
        return office_page(request, deps, who, "ppid_problem.html", 422, back=back,
                           message="Tuliskan alasan penerusan (paling sedikit 5 huruf); alasan ini tercatat.")
    try:
        await deps.casework.reassign(code, unit, actor=f"operator:{who.name}", reason=reason[:1000])
    except NotFound:
        return office_page(request, deps, who, "ppid_problem.html", 404, message="Aduan tidak ditemukan.")
    except ReassignmentRefused as error:
        return office_page(request, deps, who, "ppid_problem.html", 409, message=str(error), back=back)
    return RedirectResponse("/ppid", status_code=303)


@router.post("/ppid/aduan/{ref}/bukan-aduan")
async def not_a_complaint(request: Request, ref: str, alasan: str = Form(""), who: Session = Depends(checked_form),
                          deps: RouterDependencies = Depends(dependencies)) -> Response:
    """Spam, a test, a greeting: finished as done with the reason, which the citizen and LAPOR! hear as the
    outcome, like any other (there is no separate status for it yet)."""
    code, reason = normalise_tracking_code(ref) or ref, alasan.strip()
    back = f"/ppid/aduan/{code}"
    if len(reason) < 5:
        return office_page(request, deps, who, "ppid_problem.html", 422, back=back,
                           message="Tuliskan alasan mengapa ini bukan aduan (paling sedikit 5 huruf).")
    try:
        await deps.casework.act(code, UnitAction.DONE, actor=f"operator:{who.name}", unit_code=None,
                                message=f"{NOT_A_COMPLAINT}{reason[:1000]}")
    except NotFound:
        return office_page(request, deps, who, "ppid_problem.html", 404, message="Aduan tidak ditemukan.")
    except TransitionRefused as error:
        return office_page(request, deps, who, "ppid_problem.html", 409, message=str(error), back=back)
    return RedirectResponse("/ppid", status_code=303)


MAX_SEARCH_WORDS = 8


@router.get("/ppid/cari", response_class=HTMLResponse)
async def search(request: Request, kode: str = "", kata: str = "", unit: str = "", status: str = "", kanal: str = "",
                 kecamatan: str = "", kelurahan: str = "", dari: str = "", sampai: str = "",
                 who: Session = Depends(operator), deps: RouterDependencies = Depends(dependencies)) -> HTMLResponse:
    """Find complaints by tracking code, words, unit, status, channel, place and the dates received."""
    form = {"kode": kode, "kata": kata, "unit": unit, "status": status, "kanal": kanal, "kecamatan": kecamatan,
            "kelurahan": kelurahan, "dari": dari, "sampai": sampai}
    context = {"form": form, "areas": areas(), "statuses": STATUS_WORDS,
               "unit_options": [(u.code, u.name) for u in deps.live.current.registry.units],
               "channel_options": list(reports.CHANNELS.items()), "status_options": list(STATUS_WORDS.items()),
               "kecamatan_options": [(k, k) for k in areas()]}
    try:
        criteria = SearchCriteria(
            tracking_code=(normalise_tracking_code(kode) or kode.strip().upper()) if kode.strip() else None,
            words=tuple(kata.split()[:MAX_SEARCH_WORDS]), unit=unit or None, status=status or None,
            channel=kanal or None, kecamatan=kecamatan or None, kelurahan=kelurahan or None,
            received_from=date.fromisoformat(dari) if dari else None,
            received_to=date.fromisoformat(sampai) if sampai else None)
    except ValueError:
        return office_page(request, deps, who, "ppid_search.html", 422, error="Tanggal harus berbentuk TTTT-BB-HH.",
                           results=None, **context)
    results = None if criteria.empty else await deps.repository.search(criteria, SEARCH_LIMIT)
    return office_page(request, deps, who, "ppid_search.html", results=results, limit=SEARCH_LIMIT, **context)


SEARCH_LIMIT = 100
AT_RISK_WORKING_DAYS = 2  # due within this many working days: at risk


@router.get("/ppid/tenggat", response_class=HTMLResponse)
async def deadlines(request: Request, who: Session = Depends(operator),
                    deps: RouterDependencies = Depends(dependencies)) -> HTMLResponse:
    """What is late and what is about to be, per unit, and each unit's month at a glance."""
    now = deps.clock()
    today = now.astimezone(WIB).date()
    cases = []
    for row in await deps.repository.open_cases():
        case = with_due(row, today)
        if case["due"] is None or case["status"] == ComplaintStatus.RESPONDED:
            continue  # answered: what remains is the citizen's turn, not the unit's
        cases.append({**case, "left": deps.calendar.working_days_left(today, case["due"])})
    cases.sort(key=lambda c: (c["due"], c["received_at"]))
    overdue = [c for c in cases if c["overdue"]]
    at_risk = [c for c in cases if not c["overdue"] and c["left"] <= AT_RISK_WORKING_DAYS]
    month = await _month_so_far(deps, today)
    registry = deps.live.current.registry
    summary = [{"unit": unit, "open": sum(c["assignment"].unit.code == unit.code for c in cases),
                "overdue": sum(c["assignment"].unit.code == unit.code for c in overdue),
                "at_risk": sum(c["assignment"].unit.code == unit.code for c in at_risk),
                "month": month.per_unit.get(unit.code)} for unit in registry.units]
    return office_page(request, deps, who, "ppid_deadlines.html", overdue=overdue, at_risk=at_risk,
                       summary=summary, month_start=today.replace(day=1), today=today,
                       at_risk_days=AT_RISK_WORKING_DAYS)


async def _month_so_far(deps: RouterDependencies, today: date) -> reports.Report:
    """The PPID report's figures for complaints received this month (WIB) until today."""
    return await _report(deps, today.replace(day=1), today)


async def _report(deps: RouterDependencies, period_from: date, period_to: date) -> reports.Report:
    async with deps.repository.pool.acquire() as conn:
        rows = await reports.fetch_rows(conn, period_from, period_to)
    return reports.build_report(rows, deps.calendar, period_from=period_from, period_to=period_to,
                                as_of=deps.clock(), units=[u.code for u in deps.live.current.registry.units])


def _period(dari: str, sampai: str) -> tuple[date, date] | str:
    """The report's period from the form, or what is wrong with it (in words for the clerk)."""
    try:
        period_from, period_to = date.fromisoformat(dari), date.fromisoformat(sampai)
    except ValueError:
        return "Isi kedua tanggal dalam bentuk TTTT-BB-HH."
    if period_to < period_from:
        return "Tanggal akhir sebelum tanggal awal."
    return period_from, period_to


@router.get("/ppid/laporan", response_class=HTMLResponse)
async def report_page(request: Request, dari: str = "", sampai: str = "", who: Session = Depends(operator),
                      deps: RouterDependencies = Depends(dependencies)) -> HTMLResponse:
    """The files of `make report` for a chosen period (docs/reports.md)."""
    today = deps.clock().astimezone(WIB).date()
    form = {"dari": dari or today.replace(day=1).isoformat(), "sampai": sampai or today.isoformat()}
    period = _period(dari, sampai) if dari or sampai else None
    if isinstance(period, str):
        return office_page(request, deps, who, "ppid_reports.html", 422, form=form, error=period, files=None)
    return office_page(request, deps, who, "ppid_reports.html", form=form, error=None,
                       files=reports.FILES if period else None)


@router.get("/ppid/laporan/{name}")
async def report_file(request: Request, name: str, dari: str = "", sampai: str = "",
                      who: Session = Depends(operator), deps: RouterDependencies = Depends(dependencies)) -> Response:
    period = _period(dari, sampai)
    if name not in reports.FILES or isinstance(period, str):
        return office_page(request, deps, who, "ppid_problem.html", 404 if name not in reports.FILES else 422,
                           message="Laporan tidak ditemukan." if name not in reports.FILES else period,
                           back="/ppid/laporan")
    report = await _report(deps, *period)
    names = {u.code: u.name for u in deps.live.current.registry.units}
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    if name == "report.html":
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        return HTMLResponse(reports.render_html(report, names), headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{period[0]}_{period[1]}_{name}"'
    return Response(reports.csv_text(reports.tables(report, names)[name]), media_type="text/csv; charset=utf-8",
                    headers=headers)


@router.get("/ppid/akses-kontak", response_class=HTMLResponse)
async def contact_views(request: Request, who: Session = Depends(operator),
                        deps: RouterDependencies = Depends(dependencies)) -> HTMLResponse:
    """Who saw which reporter's contact, newest first: administrators only."""
    if role_of(deps, who.name) != ADMIN:
        return office_page(request, deps, who, "ppid_problem.html", 403,
                           message="Halaman ini hanya untuk administrator.")
    return office_page(request, deps, who, "ppid_contact_views.html",
                       views=await deps.repository.contact_views())
