"""The PPID back-office on a real router process (issue 18): the triage queue holds what no rule placed and
what units handed back, an operator's reassignment is recorded and published as the API's is, the
authorisation matrix holds (no session, a unit's session, forged CSRF, roles), and reporters' identities
stay where the reporter put them, every view of a contact recorded."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from services.router.lifecycle.working_days import WorkingCalendar
from shared.contracts import Anonymity, Channel, Place, Reporter
from shared.local_time import WIB
from tests.integration.test_unit_inbox import SECRET, TOKENS, csrf_of, routed, signed_in
from tests.support import events
from tests.support.inbox import operator_sign_in
from tests.support.kafka import events_of, eventually
from tests.support.processes import REPO, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
OPERATORS = {"ani": "ani-pass-ppid", "budi": "budi-pass-admin"}
NOT_A_RULE = "Mohon info jadwal posyandu bulan depan di kelurahan kami"  # no rule claims it: the fallback


@pytest.fixture
def router(processes, own_database_url):
    # A database of its own: a lockout must not reach another test's router, nor its queue another's.
    return processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps(OPERATORS),
        "ADUAN_ROUTER_OPERATOR_ROLES": json.dumps({"budi": "admin"}),
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps(TOKENS), "ADUAN_ROUTER_INBOX_SECRET": SECRET,
        "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false", "ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "1",
        "ADUAN_ROUTER_DEADLINE_CHECK_SECONDS": "1", "ADUAN_DB_URL": own_database_url,
        # No notifier nor lapor_sync here: their delivery records cannot be read (tests/e2e reads them).
        "ADUAN_ROUTER_DELIVERY_RECORD_TOKEN": "record-token",
        "ADUAN_ROUTER_NOTIFIER_URL": f"http://127.0.0.1:{free_port()}",
        "ADUAN_ROUTER_LAPOR_SYNC_URL": f"http://127.0.0.1:{free_port()}"})


@asynccontextmanager
async def operator(router, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url) as client:
        answer = await operator_sign_in(client, name, OPERATORS[name])
        assert answer.status_code == 303 and answer.headers["location"] == "/ppid"
        yield client


def queue_codes(page: str) -> list[str]:
    return re.findall(r'<a href="/ppid/aduan/([A-Z0-9-]+)">', page)


async def test_the_secretariat_clears_the_queue_oldest_first_and_the_unit_gets_the_complaint(router, infra, topics):
    unplaced = events.received(f"{NOT_A_RULE} {uuid.uuid4().hex[:6]}")
    for_law = events.received("SURGA mohon bantuan hukum soal sengketa tanah warisan dengan tetangga")
    at_diskominfo_by_rule = events.received("Website resmi pemkot tidak bisa dibuka sejak kemarin, mohon diperbaiki")
    assigned = await routed(infra, topics, unplaced, for_law, at_diskominfo_by_rule)
    assert assigned[unplaced.complaint_id]["is_fallback"] and assigned[for_law.complaint_id]["unit"]["code"] == "hukum"
    by_rule = assigned[at_diskominfo_by_rule.complaint_id]
    assert by_rule["unit"]["code"] == "diskominfo" and not by_rule["is_fallback"]
    async with signed_in(router, "hukum") as hukum:  # a unit hands one back: it joins the queue
        csrf = csrf_of((await hukum.get("/unit")).text)
        handed = await hukum.post(f"/unit/aduan/{for_law.tracking_code}/bukan-wewenang",
                                  data={"csrf": csrf, "pesan": "Ini urusan pertanahan, bukan bantuan hukum"})
        assert handed.status_code == 303

    async with operator(router, "ani") as ani:
        queue = (await ani.get("/ppid")).text
        # Oldest first; a complaint a rule sent to Diskominfo as its own is Diskominfo's, not the queue's.
        assert queue_codes(queue) == [unplaced.tracking_code, for_law.tracking_code]
        assert "tidak ada aturan yang cocok" in queue and "Ini urusan pertanahan" in queue
        page = (await ani.get(f"/ppid/aduan/{unplaced.tracking_code}")).text
        assert "posyandu" in page and 'aturan "fallback"' in page and 'value="hukum"' in page
        assert "<h2>Tebakan aturan lain</h2>" in page
        assert "Catatan pengiriman dari lapor_sync, notifier tidak dapat diambil sekarang" in page
        moved = await ani.post(f"/ppid/aduan/{unplaced.tracking_code}/alihkan",
                               data={"csrf": csrf_of(page), "unit": "hukum", "alasan": "Permohonan informasi hukum"})
        assert moved.status_code == 303 and moved.headers["location"] == "/ppid"
        assert queue_codes((await ani.get("/ppid")).text) == [for_law.tracking_code]
        history = (await ani.get(f"/ppid/aduan/{unplaced.tracking_code}")).text
        assert "oleh operator:ani: Permohonan informasi hukum" in history

    published = await events_of(infra.kafka_bootstrap, topics.assigned, unplaced.complaint_id, 2)
    assert published[1]["unit"]["code"] == "hukum" and published[1]["sequence"] == 2
    assert published[1]["assigned_by"] == "operator:ani" and published[1]["reason"] == "Permohonan informasi hukum"
    async with signed_in(router, "hukum") as hukum:
        assert unplaced.tracking_code in (await hukum.get("/unit")).text


async def test_a_message_that_is_no_complaint_leaves_the_queue_with_its_reason_told(router, infra, topics):
    spam = events.received(f"tes tes 123 {uuid.uuid4().hex[:6]}")
    assigned = await routed(infra, topics, spam)
    assert assigned[spam.complaint_id]["is_fallback"]
    async with operator(router, "ani") as ani:
        page = (await ani.get(f"/ppid/aduan/{spam.tracking_code}")).text
        too_short = await ani.post(f"/ppid/aduan/{spam.tracking_code}/bukan-aduan", data={"csrf": csrf_of(page),
                                                                                         "alasan": "uji"})
        assert too_short.status_code == 422 and "alasan" in too_short.text
        closed = await ani.post(f"/ppid/aduan/{spam.tracking_code}/bukan-aduan",
                                data={"csrf": csrf_of(page), "alasan": "Pesan uji coba, tidak berisi aduan"})
        assert closed.status_code == 303 and queue_codes((await ani.get("/ppid")).text) == []
    [change] = await events_of(infra.kafka_bootstrap, topics.status, spam.complaint_id, 1)
    assert change["status"] == "done" and change["actor"] == "operator:ani"
    assert change["message"] == "Bukan aduan: Pesan uji coba, tidak berisi aduan"


async def test_no_session_a_units_session_or_a_forged_form_reach_nothing(router, infra, topics):
    unplaced = events.received(f"{NOT_A_RULE} {uuid.uuid4().hex[:6]}")
    await routed(infra, topics, unplaced)
    pages = ["/ppid", f"/ppid/aduan/{unplaced.tracking_code}", f"/ppid/aduan/{unplaced.tracking_code}/lampiran/0",
             "/ppid/akses-kontak"]
    move = f"/ppid/aduan/{unplaced.tracking_code}/alihkan"
    async with httpx.AsyncClient(base_url=router.url) as nobody:
        for path in pages:
            assert (await nobody.get(path)).headers["location"] == "/ppid/masuk", path
        assert (await nobody.post(move, data={"unit": "hukum", "alasan": "tanpa sesi"})).status_code == 303
    async with signed_in(router, "diskominfo") as unit:
        # The unit's own cookie, sent to the back-office under the back-office's name: another realm.
        unit_session = unit.cookies.get("aduan_unit")
        async with httpx.AsyncClient(base_url=router.url, cookies={"aduan_ppid": unit_session}) as stolen:
            for path in pages:
                assert (await stolen.get(path)).headers["location"] == "/ppid/masuk", path
    async with operator(router, "ani") as ani:
        operator_session = ani.cookies.get("aduan_ppid")
        async with httpx.AsyncClient(base_url=router.url, cookies={"aduan_unit": operator_session}) as other_way:
            assert (await other_way.get("/unit")).headers["location"] == "/unit/masuk"
        unit_csrf = csrf_of((await unit_page(router)).text)
        for forged in ({"csrf": unit_csrf}, {"csrf": "0" * 64}, {}):
            answer = await ani.post(move, data={**forged, "unit": "hukum", "alasan": "dari situs lain"})
            assert answer.status_code == 403
        assert queue_codes((await ani.get("/ppid")).text) == [unplaced.tracking_code]  # nothing moved
        # The secretariat's role does not open the administrators' page.
        assert (await ani.get("/ppid/akses-kontak")).status_code == 403
    assert len(await events_of(infra.kafka_bootstrap, topics.assigned, unplaced.complaint_id, 1)) == 1


async def unit_page(router) -> httpx.Response:
    async with signed_in(router, "diskominfo") as unit:
        return await unit.get("/unit")


async def test_hidden_reporters_stay_hidden_and_each_view_of_a_contact_is_recorded(router, infra, topics):
    hidden = events.received(f"{NOT_A_RULE} rahasia {uuid.uuid4().hex[:6]}", anonymity=Anonymity.RAHASIA,
                             reporter=Reporter(name="Budi Santoso", phone="+6281299887766"))
    shown = events.received(f"{NOT_A_RULE} terbuka {uuid.uuid4().hex[:6]}",
                            reporter=Reporter(name="Siti Aminah", phone="+6281234567890"))
    await routed(infra, topics, hidden, shown)
    async with operator(router, "ani") as ani:
        hidden_page = (await ani.get(f"/ppid/aduan/{hidden.tracking_code}")).text
        assert "Budi" not in hidden_page and "99887766" not in hidden_page and "dirahasiakan" in hidden_page
        shown_page = (await ani.get(f"/ppid/aduan/{shown.tracking_code}")).text
        assert "Siti Aminah" in shown_page
    async with operator(router, "budi") as admin:
        views = (await admin.get("/ppid/akses-kontak")).text
    rows = re.findall(r"<tr><td>[^<]+</td><td>(\w+)</td><td><a href=\"/ppid/aduan/([A-Z0-9-]+)\">", views)
    assert rows == [("ani", shown.tracking_code)]  # the shown contact once; the hidden one never


async def test_sign_in_refuses_wrong_passwords_then_locks_and_refuses_cross_site_posts(router):
    async with httpx.AsyncClient(base_url=router.url) as guesser:
        answers = [(await operator_sign_in(guesser, "ani", f"guess-{n}")).status_code for n in range(6)]
        assert answers == [401] * 5 + [429]
        assert (await operator_sign_in(guesser, "ani", OPERATORS["ani"])).status_code == 429
        # A unit's password is not an operator's.
        assert (await operator_sign_in(guesser, "hukum", TOKENS["hukum"])).status_code == 401
    async with httpx.AsyncClient(base_url=router.url) as victim:
        forged = await victim.post("/ppid/masuk", data={"name": "budi", "password": OPERATORS["budi"],
                                                        "signin": "attacker-chosen"})
        assert forged.status_code == 403 and "aduan_ppid=" not in forged.headers.get("set-cookie", "")
    async with operator(router, "budi") as admin:  # the lockout is per operator
        signed_out = await admin.post("/ppid/keluar", data={"csrf": csrf_of((await admin.get("/ppid")).text)})
        assert signed_out.status_code == 303
        assert (await admin.get("/ppid")).headers["location"] == "/ppid/masuk"


async def test_the_deadlines_page_lists_what_is_late_and_what_is_about_to_be_per_unit(router, infra, topics,
                                                                                      own_database_url):
    late, soon, fine = (events.received(f"Tagihan PBB saya dihitung dua kali, mohon dicek {n} {uuid.uuid4().hex[:6]}")
                        for n in range(3))
    assigned = await routed(infra, topics, late, soon, fine)
    assert {a["unit"]["code"] for a in assigned.values()} == {"bppkad"}
    now = datetime.now(UTC)
    tomorrow_at_work = WorkingCalendar().add_working_days(now, 1)
    conn = await asyncpg.connect(own_database_url)
    try:  # as if the first had waited three weeks and the second's deadline were the next working day
        await conn.execute("UPDATE router.assignments SET forward_due = $2, follow_up_due = $2 "
                           "WHERE complaint_id = $1", uuid.UUID(late.complaint_id), now.date() - timedelta(days=21))
        await conn.execute("UPDATE router.assignments SET follow_up_due = $2 WHERE complaint_id = $1",
                           uuid.UUID(soon.complaint_id), tomorrow_at_work)
        await eventually(lambda: conn.fetchval("SELECT count(*) = 2 OR NULL FROM router.escalations"), timeout=30,
                         what="the deadline watcher escalating the late complaint")
    finally:
        await conn.close()
    async with operator(router, "ani") as ani:
        page = (await ani.get("/ppid/tenggat")).text
    overdue, rest = page.split("<h2>Hampir jatuh tempo")
    overdue = overdue.split("<h2>Terlambat")[1]
    assert queue_codes(overdue) == [late.tracking_code] and "terlambat" in overdue
    assert "belum diterima unit" in overdue and "belum ditindaklanjuti" in overdue  # the escalations sent
    assert queue_codes(rest) == [soon.tracking_code] and fine.tracking_code not in page
    bppkad = re.search(r'<th scope="row">Badan Pendapatan[^<]*</th><td>(\d+)</td><td>(?:<span class="late">)?(\d+)',
                       page)
    assert bppkad.groups() == ("3", "1")  # open, overdue


async def test_search_finds_by_code_words_unit_status_channel_place_and_dates(router, infra, topics):
    tag = uuid.uuid4().hex[:6]
    in_bandar = events.received(f"Lampu jalan mati di gang buntu {tag}", place=Place(kelurahan="Bandar Lor",
                                                                                     kecamatan="Mojoroto"))
    tax = events.received(f"Denda PBB naik 100% tanpa pemberitahuan {tag}", channel=Channel.SMS)
    other = events.received(f"Denda PBB tetangga dihitung dua kali {tag}")
    assigned = await routed(infra, topics, in_bandar, tax, other)
    today = datetime.now(UTC).astimezone(WIB).date()

    async def found(**query: str) -> list[str]:
        answer = await ani.get("/ppid/cari", params=query)
        assert answer.status_code == 200, answer.text
        return queue_codes(answer.text.split("<h2>Hasil")[1]) if "<h2>Hasil" in answer.text else []

    async with operator(router, "ani") as ani:
        assert await found(kata=f"pbb {tag}") == [other.tracking_code, tax.tracking_code]  # newest first
        assert await found(kata=f"100% {tag}") == [tax.tracking_code]  # % is a character, not a wildcard
        assert await found(kata=f"_ {tag}") == []
        assert await found(kode=in_bandar.tracking_code.lower().replace("-", "")) == [in_bandar.tracking_code]
        assert await found(kecamatan="Mojoroto", kata=tag) == [in_bandar.tracking_code]
        assert await found(kelurahan="Bandar Lor", kata=tag) == [in_bandar.tracking_code]
        assert await found(kanal="sms", kata=tag) == [tax.tracking_code]
        unit = assigned[tax.complaint_id]["unit"]["code"]
        assert await found(unit=unit, status="assigned", kata=tag) == [other.tracking_code, tax.tracking_code]
        assert await found(status="done", kata=tag) == []
        assert len(await found(dari=today.isoformat(), sampai=today.isoformat(), kata=tag)) == 3
        assert await found(sampai=(today - timedelta(days=1)).isoformat(), kata=tag) == []
        assert await found() == []  # no criterion: the form only, no list of everything
        bad = await ani.get("/ppid/cari", params={"dari": "kemarin"})
        assert bad.status_code == 422 and "TTTT-BB-HH" in bad.text


async def test_the_reports_are_the_same_files_make_report_writes(router, infra, topics, own_database_url, tmp_path):
    await routed(infra, topics, events.received(f"Denda PBB saya dihitung dua kali {uuid.uuid4().hex[:6]}"),
                 events.received(f"{NOT_A_RULE} {uuid.uuid4().hex[:6]}"))
    today = datetime.now(UTC).astimezone(WIB).date().isoformat()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.router.reports", "--from", today, "--to", today, "--out", str(tmp_path),
        cwd=REPO, env={**os.environ, "ADUAN_DB_URL": own_database_url}, stdout=asyncio.subprocess.PIPE)
    await process.communicate()
    assert process.returncode == 0
    async with operator(router, "ani") as ani:
        page = (await ani.get("/ppid/laporan", params={"dari": today, "sampai": today})).text
        for name in ("by_channel.csv", "by_unit.csv", "by_status.csv", "by_area.csv", "timings.csv"):
            assert f"/ppid/laporan/{name}?dari={today}&amp;sampai={today}" in page
            answer = await ani.get(f"/ppid/laporan/{name}", params={"dari": today, "sampai": today})
            assert answer.headers["content-type"] == "text/csv; charset=utf-8"
            assert answer.content == (tmp_path / name).read_bytes(), name
        html = await ani.get("/ppid/laporan/report.html", params={"dari": today, "sampai": today})
        assert html.status_code == 200 and html.text.count("<svg") == 4
        backwards = await ani.get("/ppid/laporan", params={"dari": today, "sampai": "2020-01-01"})
        assert backwards.status_code == 422 and "sebelum" in backwards.text
        assert (await ani.get("/ppid/laporan/../../etc/passwd", params={"dari": today, "sampai": today})
                ).status_code == 404
