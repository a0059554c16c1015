"""Security review, issue 14, item 6: the unit inbox's links and sessions, on a real router process.

Links lived 14 days, could be used again and again, and opened the whole unit's inbox for 8 hours;
signing out only dropped the cookie (a copied cookie still worked); a changed unit password left every
session open; sign-in could be tried without end; a sign-in form could be posted from another site.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

import httpx
import pytest

from shared import unit_access
from tests.integration.test_unit_inbox import SECRET, TOKENS, routed
from tests.support import events
from tests.support.inbox import open_link, sign_in
from tests.support.processes import REPO

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def start_router(processes, database_url: str, tokens: dict[str, str], port: int | None = None):
    # A database of its own: a lockout or an ended session must not reach another test's router.
    return processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps(tokens), "ADUAN_ROUTER_INBOX_SECRET": SECRET,
        "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false", "ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "1",
        "ADUAN_DB_URL": database_url}, port=port)


@pytest.fixture
async def stack(processes, infra, topics, own_database_url):
    router = start_router(processes, own_database_url, TOKENS)
    tax = events.received(f"Denda PBB saya dihitung dua kali {uuid.uuid4().hex[:6]}")
    other = events.received(f"Tagihan PBB tetangga juga salah {uuid.uuid4().hex[:6]}")
    assigned = await routed(infra, topics, tax, other)
    assert {a["unit"]["code"] for a in assigned.values()} == {"bppkad"}
    return router, tax, other


async def test_an_email_link_opens_its_one_complaint_once(stack):
    router, tax, other = stack
    link = unit_access.link_url(SECRET, router.url, "bppkad", tax.tracking_code, 3600)
    async with httpx.AsyncClient(base_url=router.url) as scanner:
        assert (await scanner.get(link)).status_code == 200  # a mail scanner opening it uses nothing up
    async with httpx.AsyncClient(base_url=router.url) as browser:
        opened = await open_link(browser, link)
        assert opened.status_code == 303 and (await browser.get(opened.headers["location"])).status_code == 200
        # That complaint only: not the unit's list, not its other complaints.
        assert (await browser.get("/unit")).headers["location"] == f"/unit/aduan/{tax.tracking_code}"
        assert (await browser.get(f"/unit/aduan/{other.tracking_code}")).status_code == 404
    async with httpx.AsyncClient(base_url=router.url) as later:
        again = await open_link(later, link)
        assert again.status_code == 403 and "aduan_unit" not in again.headers.get("set-cookie", "")


async def test_signing_out_ends_the_session_not_just_the_cookie(stack):
    router, _, _ = stack
    async with httpx.AsyncClient(base_url=router.url) as browser:
        assert (await sign_in(browser, "bppkad", TOKENS["bppkad"])).status_code == 303
        cookie = browser.cookies["aduan_unit"]
        page = await browser.get("/unit")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        assert (await browser.post("/unit/keluar", data={"csrf": csrf})).status_code == 303
    async with httpx.AsyncClient(base_url=router.url, cookies={"aduan_unit": cookie}) as copied:
        assert (await copied.get("/unit")).headers["location"] == "/unit/masuk"


async def test_a_new_unit_password_ends_the_sessions_of_the_old(processes, stack, own_database_url):
    router, _, _ = stack
    async with httpx.AsyncClient(base_url=router.url) as browser:
        assert (await sign_in(browser, "bppkad", TOKENS["bppkad"])).status_code == 303
        cookie = browser.cookies["aduan_unit"]
    processes.stop(router)
    router = start_router(processes, own_database_url, {**TOKENS, "bppkad": "a-new-password"}, port=router.port)
    async with httpx.AsyncClient(base_url=router.url, cookies={"aduan_unit": cookie}) as old:
        assert (await old.get("/unit")).headers["location"] == "/unit/masuk"


async def test_an_operator_can_end_every_session_of_a_unit(stack, own_database_url):
    router, _, _ = stack
    async with httpx.AsyncClient(base_url=router.url) as browser:
        assert (await sign_in(browser, "bppkad", TOKENS["bppkad"])).status_code == 303
        assert (await browser.get("/unit")).status_code == 200
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.router.http.inbox_sessions", "revoke", "bppkad", cwd=REPO,
            env={**os.environ, "ADUAN_DB_URL": own_database_url}, stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate()
        assert process.returncode == 0 and b"ended" in out
        assert (await browser.get("/unit")).headers["location"] == "/unit/masuk"


async def test_sign_in_is_locked_after_repeated_failures(stack):
    router, _, _ = stack
    async with httpx.AsyncClient(base_url=router.url) as guesser:
        answers = [(await sign_in(guesser, "bppkad", f"guess-{n}")).status_code for n in range(6)]
        assert answers == [401] * 5 + [429]
        # Locked even for the right password, for a while; the unit's e-mail links still open.
        assert (await sign_in(guesser, "bppkad", TOKENS["bppkad"])).status_code == 429


async def test_a_sign_in_posted_from_another_site_is_refused(stack):
    router, _, _ = stack
    async with httpx.AsyncClient(base_url=router.url) as victim:  # no sign-in page loaded: no pre-session cookie
        forged = await victim.post("/unit/masuk", data={"unit": "bppkad", "token": TOKENS["bppkad"],
                                                        "signin": "attacker-chosen"})
        assert forged.status_code == 403 and "aduan_unit" not in forged.headers.get("set-cookie", "")
