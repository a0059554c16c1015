"""The PPID report command on the real PostgreSQL: complaints with known times in a router schema of
their own, `reports.main` run in-process for a period, and the numbers in its CSV files and page."""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from datetime import UTC, date, datetime

import pytest

from services.router import reports
from services.router.adapters.postgres import RouterRepository
from services.router.app import MIGRATIONS
from services.router.lifecycle import UnitAction
from services.router.lifecycle.working_days import WIB, WorkingCalendar
from services.router.routing.assignment import build_assignment
from services.router.routing.rules import load_ruleset
from shared.database import create_pool, migrate
from shared.settings import DatabaseSettings
from tests.support import events

pytestmark = pytest.mark.postgres
SECRET_TEXT = "SURGA pungutan liar di loket kelurahan oleh petugas berinisial AB"
REPORTER = {"name": "Siti Aminah", "phone": "+6281234567890", "email": "siti@example.id"}


@pytest.fixture
async def router_db(database_url, monkeypatch):
    schema = f"router_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=2), schema)
    await migrate(pool, schema, MIGRATIONS)
    monkeypatch.setenv("ADUAN_DB_URL", database_url)
    yield schema, pool
    await pool.close()


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


async def insert(pool, code: str, *, channel: str, received: str, status: str, assignments: list[tuple],
                 responded: str | None = None, closed: str | None = None, place: dict | None = None) -> None:
    """A complaint as the router keeps it; `assignments`: (unit, assigned at, follow_up_due) in sequence, each
    event carrying `place`."""
    complaint_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO complaints (complaint_id, tracking_code, channel, channel_message_id, text, anonymity,
                                   reporter, received_at, correlation_id, status, first_response_at, closed_at)
           VALUES ($1, $2, $3, $4, $5, 'rahasia', $6, $7, 'c', $8, $9, $10)""",
        complaint_id, code, channel, f"m-{code}", SECRET_TEXT, json.dumps(REPORTER), wib(received), status,
        wib(responded) if responded else None, wib(closed) if closed else None)
    for sequence, (unit, assigned_at, due) in enumerate(assignments, start=1):
        await pool.execute(
            """INSERT INTO assignments (assignment_id, complaint_id, sequence, unit_code, rule_id, ruleset_version,
                                        matched_terms, is_fallback, event, assigned_at, follow_up_due)
               VALUES ($1, $2, $3, $4, 'r', 'v', '{}', false, $7, $5, $6)""",
            uuid.uuid4(), complaint_id, sequence, unit, wib(assigned_at), due, json.dumps({"place": place}))


def read_csv(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def test_the_command_counts_and_times_a_month_of_complaints(router_db, tmp_path, capsys):
    schema, pool = router_db
    # Working days by hand: 17 August (Monday) and 25 August (Tuesday) are public holidays.
    await insert(pool, "AAAAA-00001", channel="web", received="2026-08-14T10:00", status="done",  # Fri
                 responded="2026-08-18T09:00", closed="2026-08-20T15:00",  # 1 and 3 working days
                 assignments=[("bppkad", "2026-08-14T10:00", date(2026, 8, 21))],
                 place={"kelurahan": "Setono Gedong", "kecamatan": "Kota", "street": "Jl. Dhoho"})
    await insert(pool, "AAAAA-00002", channel="sms", received="2026-08-12T08:00", status="responded",
                 responded="2026-08-19T16:00",  # 4 working days, on the due date
                 assignments=[("bppkad", "2026-08-12T08:00", date(2026, 8, 19))], place={"kecamatan": "Kota"})
    await insert(pool, "AAAAA-00003", channel="whatsapp", received="2026-08-03T09:00", status="closed",
                 responded="2026-08-11T10:00", closed="2026-08-25T10:00",  # 6 (a day late) and 14
                 assignments=[("inspektorat", "2026-08-03T09:00", date(2026, 8, 10))])
    await insert(pool, "AAAAA-00004", channel="web", received="2026-08-20T09:00", status="acknowledged",
                 assignments=[("inspektorat", "2026-08-20T09:00", date(2026, 8, 27))])  # never answered
    # Re-assigned before the answer: judged by the second unit's due date (the first one's has passed).
    await insert(pool, "AAAAA-00005", channel="whatsapp", received="2026-08-05T09:00", status="responded",
                 responded="2026-08-14T10:00",  # 7 working days
                 assignments=[("bppkad", "2026-08-05T09:00", date(2026, 8, 12)),
                              ("hukum", "2026-08-10T09:00", date(2026, 8, 17))])
    # Answered late, then handed back: judged by the due date in force at the answer, not the new one.
    await insert(pool, "AAAAA-00006", channel="web", received="2026-08-03T09:00", status="assigned",
                 responded="2026-08-05T10:00",  # 2 working days
                 assignments=[("diskominfo", "2026-08-03T09:00", date(2026, 8, 4)),
                              ("hukum", "2026-08-06T09:00", date(2026, 8, 13))])
    # 00:30 WIB on 1 August is still 31 July in UTC: in the period. Saturday, answered Monday: 1 working day.
    await insert(pool, "AAAAA-00007", channel="sms", received="2026-08-01T00:30", status="responded",
                 responded="2026-08-03T08:00", assignments=[("diskominfo", "2026-08-01T00:30", date(2026, 8, 7))])
    # Outside the period in WIB (the second is 31 August in UTC).
    await insert(pool, "AAAAA-00008", channel="web", received="2026-07-31T23:30", status="assigned",
                 assignments=[("bppkad", "2026-07-31T23:30", date(2026, 8, 7))])
    await insert(pool, "AAAAA-00009", channel="web", received="2026-09-01T00:10", status="assigned",
                 assignments=[("bppkad", "2026-09-01T00:10", date(2026, 9, 8))])

    out = tmp_path / "agustus"
    code = await asyncio.to_thread(reports.main, ["--from", "2026-08-01", "--to", "2026-08-31", "--out", str(out),
                                                  "--schema", schema])
    assert code == 0
    assert "complaints=7 responded=6 response_median_wd=3.0 response_p90_wd=6.5" in capsys.readouterr().out

    assert read_csv(out / "by_channel.csv") == [
        {"channel": "web", "complaints": "3"}, {"channel": "sms", "complaints": "2"},
        {"channel": "whatsapp", "complaints": "2"}]
    by_unit = {r["unit_code"]: int(r["complaints"]) for r in read_csv(out / "by_unit.csv")}
    assert by_unit == {"inspektorat": 2, "hukum": 2, "bppkad": 2, "prokopim": 0, "diskominfo": 1}
    by_status = {r["status"]: (r["status_label"], int(r["complaints"])) for r in read_csv(out / "by_status.csv")}
    assert by_status == {"assigned": ("baru", 1), "acknowledged": ("diproses", 1), "responded": ("ditanggapi", 3),
                         "replied": ("dibalas pelapor", 0), "done": ("selesai", 1), "closed": ("ditutup", 1)}

    by_area = {(r["kecamatan"], r["kelurahan"]): int(r["complaints"]) for r in read_csv(out / "by_area.csv")}
    assert len(by_area) == 46 + 2 and sum(by_area.values()) == 7
    assert (by_area[("Kota", "Setono Gedong")], by_area[("Kota", "")], by_area[("", "")]) == (1, 1, 5)

    [summary] = read_csv(out / "summary.csv")
    assert summary | {"as_of": ""} == {
        "period_from": "2026-08-01", "period_to": "2026-08-31", "as_of": "", "complaints": "7", "responded": "6",
        "response_median_wd": "3.0", "response_p90_wd": "6.5",  # of 1, 1, 2, 4, 6, 7
        "closed": "2", "closure_median_wd": "8.5", "closure_p90_wd": "12.9",  # of 3 and 14
        "answered_on_time": "4", "answered_late": "2", "overdue_unanswered": "1", "within_deadline_pct": "57.1"}
    timings = {r["unit_code"]: r for r in read_csv(out / "timings.csv")}
    assert timings["bppkad"]["unit_name"].startswith("Badan Pendapatan")
    assert [timings["bppkad"][k] for k in ("response_median_wd", "response_p90_wd", "within_deadline_pct")] == [
        "2.5", "3.7", "100.0"]
    assert [timings["hukum"][k] for k in ("response_median_wd", "response_p90_wd", "answered_on_time",
                                          "answered_late", "within_deadline_pct")] == ["4.5", "6.5", "1", "1", "50.0"]
    assert [timings["inspektorat"][k] for k in ("responded", "closure_median_wd", "answered_late",
                                                "overdue_unanswered", "within_deadline_pct")] == ["1", "14.0", "1", "1",
                                                                                                  "0.0"]
    assert timings["prokopim"]["response_median_wd"] == "" and timings["prokopim"]["within_deadline_pct"] == ""

    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 4 and "<script" not in page
    assert "3,0 / 6,5 hari kerja" in page and "8,5 / 12,9 hari kerja" in page
    assert "57,1%" in page and "(4 dari 7)" in page
    assert "penugasan terakhir" in page

    # Counts and times only: no tracking code, text or reporter in any file.
    written = "".join(path.read_text(encoding="utf-8") for path in out.iterdir())
    assert sorted(p.name for p in out.iterdir()) == sorted(reports.FILES)
    for secret in ("AAAAA-", "pungutan", "Siti", "6281234567890", "siti@example.id"):
        assert secret not in written


async def test_what_the_router_stores_and_a_unit_answers_today_is_reported(router_db, tmp_path, capsys):
    schema, pool = router_db
    repo, rules, calendar = RouterRepository(pool), load_ruleset(), WorkingCalendar()
    [stored] = await repo.assign_batch([events.received("SURGA nama di SPPT PBB masih atas nama pemilik lama")],
                                       lambda e: build_assignment(e, rules.route(e.text, e.channel), 1, calendar,
                                                                  now=datetime.now(UTC)))
    await repo.change_status(stored.event.tracking_code, UnitAction.RESPOND, actor="unit:bppkad", unit_code="bppkad",
                             message="Sudah kami betulkan", close_due=lambda unit: date(2099, 1, 1))
    today = datetime.now(UTC).astimezone(WIB).date().isoformat()
    code = await asyncio.to_thread(reports.main, ["--from", today, "--to", today, "--out", str(tmp_path),
                                                  "--schema", schema])
    assert code == 0
    [summary] = read_csv(tmp_path / "summary.csv")
    assert [summary[k] for k in ("complaints", "responded", "response_median_wd", "within_deadline_pct")] == [
        "1", "1", "0.0", "100.0"]
    assert {r["unit_code"]: r["complaints"] for r in read_csv(tmp_path / "by_unit.csv")}["bppkad"] == "1"


async def test_a_schema_without_the_router_tables_is_an_error_not_an_empty_report(router_db, tmp_path, capsys):
    code = await asyncio.to_thread(reports.main, ["--from", "2026-08-01", "--to", "2026-08-31", "--out",
                                                  str(tmp_path / "x"), "--schema", "no_such_schema"])
    assert code == 2
    assert "complaints" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
