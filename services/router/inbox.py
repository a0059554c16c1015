"""The unit inbox: a small server-rendered site in Indonesian where a work unit sees its complaints,
overdue first, and acknowledges, responds, marks done, or hands one back as not its authority.

Sign-in: the unit's own credential (its token from ADUAN_ROUTER_UNIT_TOKENS; locked for a while after
repeated failures), or a signed, expiring, single-use link from a unit e-mail, which opens that one
complaint. Either gives a session kept in the router's database (services/router/inbox_sessions.py:
ended by signing out, by a new unit password, or by an operator) whose random id is the cookie
(HttpOnly, SameSite=Strict); the sign-in form and every other form carry a CSRF token. A unit sees
and changes only the complaints assigned to it now; any other answers 404, as if it did not
exist. The reporter's identity shows only when the reporter allowed it (`reporter_for_unit`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import SecretStr

from services.router.assignment import ReassignmentRefused
from services.router.desk import Desk
from services.router.inbox_sessions import LINK_CREDENTIAL, LOCKOUT_MINUTES, InboxSessions, Session, digest
from services.router.lifecycle import ASSIGNED, OPEN, STATUS_WORDS, TransitionRefused, UnitAction
from services.router.repository import NotFound, RouterRepository
from shared import unit_access
from shared.contracts import normalise_tracking_code
from shared.local_time import WIB, wib

COOKIE = "aduan_unit"
SIGN_IN_COOKIE = "aduan_signin"
FORM_ACTIONS = {"terima": UnitAction.ACKNOWLEDGE, "tanggapi": UnitAction.RESPOND, "selesai": UnitAction.DONE}
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["status_words"] = STATUS_WORDS
templates.env.filters["wib"] = wib


class _SignIn(Exception):
    """No valid session: the browser goes to the sign-in page."""


def add_inbox(api: FastAPI, *, repository: Callable[[], RouterRepository], desk: Desk, secret: SecretStr,
              unit_tokens: dict[str, SecretStr], session_hours: float, cookie_secure: bool) -> None:
    key = secret.get_secret_value()

    def sessions() -> InboxSessions:
        return InboxSessions(repository().pool)

    def password_of(unit: str) -> str:
        """What a password session remembers of the password: a new password ends the old sessions."""
        token = unit_tokens.get(unit)
        return digest(f"{unit}\n{token.get_secret_value()}") if token else ""

    @api.exception_handler(_SignIn)
    async def to_sign_in(request: Request, _: _SignIn) -> RedirectResponse:
        return RedirectResponse("/unit/masuk", status_code=303)

    def enabled() -> None:
        if not key:
            raise HTTPException(404, "kotak masuk unit belum diaktifkan (ADUAN_ROUTER_INBOX_SECRET)")

    async def session(request: Request, _: None = Depends(enabled)) -> Session:
        found = await sessions().find(request.cookies.get(COOKIE, ""))
        if found is None or (found.credential != LINK_CREDENTIAL and found.credential != password_of(found.unit)):
            raise _SignIn()
        return found

    async def checked_form(request: Request, csrf: str = Form(""), grant: Session = Depends(session)) -> Session:
        expected = unit_access.csrf_token(key, request.cookies.get(COOKIE, ""))
        if not secrets.compare_digest(csrf.encode(), expected.encode()):
            raise HTTPException(403, "formulir kedaluwarsa atau bukan dari halaman ini; muat ulang halaman")
        return grant

    async def signed_in(response: RedirectResponse, unit: str, scope: str | None, credential: str,
                        ) -> RedirectResponse:
        session_id = await sessions().open(unit, scope, credential, session_hours)
        response.set_cookie(COOKIE, session_id, max_age=int(session_hours * 3600), httponly=True, samesite="strict",
                            secure=cookie_secure, path="/unit")
        response.delete_cookie(SIGN_IN_COOKIE, path="/unit")
        return response

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def sign_in_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
        """With a fresh pre-session token in a cookie and in the form: a sign-in posted from another site
        (which would sign the unit's browser into the attacker's session) carries no cookie."""
        token = secrets.token_urlsafe(24)
        response = page(request, "inbox_sign_in.html", status, error=error, signin=token)
        response.set_cookie(SIGN_IN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                            secure=cookie_secure, path="/unit")
        return response

    @api.get("/unit/masuk", response_class=HTMLResponse, include_in_schema=False)
    async def sign_in_form(request: Request, _: None = Depends(enabled)) -> HTMLResponse:
        return sign_in_page(request)

    @api.post("/unit/masuk", include_in_schema=False)
    async def sign_in(request: Request, unit: str = Form(""), token: str = Form(""), signin: str = Form(""),
                      _: None = Depends(enabled)):
        expected_signin = request.cookies.get(SIGN_IN_COOKIE, "")
        if not expected_signin or not secrets.compare_digest(signin.encode(), expected_signin.encode()):
            return sign_in_page(request, 403, "Halaman masuk kedaluwarsa. Silakan coba lagi.")
        unit = unit.strip()
        if await sessions().locked(unit):
            return sign_in_page(request, 429, f"Terlalu banyak percobaan masuk untuk unit ini. Coba lagi dalam "
                                              f"{LOCKOUT_MINUTES} menit, atau buka tautan di e-mail aduan.")
        found = None
        for code, expected in unit_tokens.items():  # every comparison runs: no timing hint
            value = expected.get_secret_value()
            if value and secrets.compare_digest(token.encode(), value.encode()) and code == unit:
                found = code
        if found is None:
            await sessions().failed(unit)
            return sign_in_page(request, 401, "Kode unit atau kata sandi salah.")
        return await signed_in(RedirectResponse("/unit", status_code=303), found, None, password_of(found))

    @api.get("/unit/tautan", include_in_schema=False)
    async def link_page(request: Request, t: str = "", _: None = Depends(enabled)):
        """A page with a button, not the complaint: mail scanners open every link in a message, and the link
        opens once."""
        if unit_access.verify(key, unit_access.LINK, t) is None:
            return sign_in_page(request, 403, "Tautan tidak sah atau sudah kedaluwarsa. Silakan masuk dengan kata "
                                              "sandi unit.")
        return page(request, "inbox_link.html", token=t)

    @api.post("/unit/tautan", include_in_schema=False)
    async def open_link(request: Request, t: str = Form(""), _: None = Depends(enabled)):
        grant = unit_access.verify(key, unit_access.LINK, t)
        if grant is None or not await sessions().use_link(t):
            return sign_in_page(request, 403, "Tautan tidak sah, sudah kedaluwarsa, atau sudah dipakai. Silakan "
                                              "masuk dengan kata sandi unit.")
        return await signed_in(RedirectResponse(f"/unit/aduan/{grant.subject}", status_code=303), grant.unit,
                               grant.subject, LINK_CREDENTIAL)

    @api.post("/unit/keluar", include_in_schema=False)
    async def sign_out(request: Request, _: Session = Depends(checked_form)) -> RedirectResponse:
        await sessions().end(request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/unit/masuk", status_code=303)
        response.delete_cookie(COOKIE, path="/unit")
        return response

    @api.get("/unit", response_class=HTMLResponse, include_in_schema=False)
    async def inbox(request: Request, grant: Session = Depends(session)) -> HTMLResponse:
        if grant.scope:  # opened from an e-mail link: that complaint only
            return RedirectResponse(f"/unit/aduan/{grant.scope}", status_code=303)
        today = datetime.now(UTC).astimezone(WIB).date()
        rows = [_with_due(row, today) for row in await repository().inbox(grant.unit)]
        open_rows = sorted((r for r in rows if r["status"] in OPEN),
                           key=lambda r: (not r["overdue"], r["due"] or date.max, r["received_at"]))
        finished = [r for r in rows if r["status"] not in OPEN]
        return page(request, "inbox.html", unit=desk.live.current.unit(grant.unit), open_rows=open_rows,
                    finished=finished, csrf=unit_access.csrf_token(key, request.cookies.get(COOKIE, "")))

    @api.get("/unit/aduan/{ref}", response_class=HTMLResponse, include_in_schema=False)
    async def complaint(request: Request, ref: str, grant: Session = Depends(session)) -> HTMLResponse:
        try:
            found = await repository().complaint_for_unit(in_scope(normalise_tracking_code(ref) or ref, grant),
                                                          grant.unit)
        except NotFound:
            return page(request, "inbox_problem.html", 404, message="Aduan tidak ditemukan di kotak masuk unit Anda.")
        today = datetime.now(UTC).astimezone(WIB).date()
        return page(request, "inbox_complaint.html", c=_with_due(found, today), a=found["assignment"],
                    changes=found["changes"], csrf=unit_access.csrf_token(key, request.cookies.get(COOKIE, "")),
                    can_act=found["status"] in OPEN, can_acknowledge=found["status"] == ASSIGNED,
                    is_triage=grant.unit == desk.live.current.registry.fallback)

    @api.post("/unit/aduan/{ref}/{action}", include_in_schema=False)
    async def act(request: Request, ref: str, action: str, pesan: str = Form(""),
                  grant: Session = Depends(checked_form)):
        code = normalise_tracking_code(ref) or ref
        message = pesan.strip() or None
        actor = f"unit:{grant.unit}"
        try:
            in_scope(code, grant)
            if action == "bukan-wewenang":
                if not message or len(message) < 5:
                    return _refused(request, page, code, "Tuliskan alasan mengapa aduan ini bukan wewenang unit Anda.")
                await desk.hand_back(code, actor=actor, unit_code=grant.unit, reason=message)
                return RedirectResponse("/unit", status_code=303)
            step = FORM_ACTIONS.get(action)
            if step is None:
                raise NotFound(code)
            if step is UnitAction.RESPOND and (not message or len(message) < 5):
                return _refused(request, page, code, "Tanggapan untuk pelapor tidak boleh kosong.")
            await desk.act(code, step, actor=actor, unit_code=grant.unit, message=message)
        except NotFound:
            return page(request, "inbox_problem.html", 404, message="Aduan tidak ditemukan di kotak masuk unit Anda.")
        except (TransitionRefused, ReassignmentRefused) as error:
            return _refused(request, page, code, str(error))
        return RedirectResponse(f"/unit/aduan/{code}", status_code=303)


def in_scope(code: str, grant: Session) -> str:
    """The code, if this session may see it: a link session sees its own complaint, nothing else."""
    if grant.scope and code != grant.scope:
        raise NotFound(code)
    return code


def _refused(request: Request, page, code: str, message: str) -> HTMLResponse:
    return page(request, "inbox_problem.html", 409, message=message, back=f"/unit/aduan/{code}")


def _with_due(row: dict, today: date) -> dict:
    """The deadline that matters now: the follow-up while open, the automatic closure once answered,
    the answer to the citizen's reply."""
    status = row["status"]
    due = {ASSIGNED: row["follow_up_due"], "acknowledged": row["follow_up_due"], "responded": row["close_due"],
           "replied": row["answer_due"]}.get(status)
    return {**row, "due": due, "overdue": due is not None and due < today and status != "responded"}
