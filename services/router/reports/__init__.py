"""Reports for the PPID (the annual LLID report, monthly reviews) from the router's own data.

    python -m services.router.reports --from 2026-01-01 --to 2026-12-31 [--out DIR] [--schema router]

Complaints received in the period (dates inclusive, WIB, on received_at), counted by channel, by
unit (current assignment), by status and by kecamatan and kelurahan, with the working days to first
response and to closure (median and 90th percentile) and the share answered within deadline, overall
and per unit. Writes by_channel.csv, by_unit.csv, by_status.csv, by_area.csv, timings.csv, summary.csv
and report.html (Indonesian, self-contained, charts as inline SVG) to DIR (default
reports/<from>_<to>). Only counts and times: no reporter identity, no complaint text.
docs/reports.md defines every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import asyncpg
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.router.lifecycle import ASSIGNED, STATUS_WORDS
from services.router.lifecycle.working_days import WIB, WorkingCalendar
from services.router.settings import RouterSettings
from shared.contracts import Channel, ComplaintStatus
from shared.places import areas
from shared.units import RegistryError, parse_registry

TEMPLATES = Path(__file__).parent.parent / "templates"  # services/router/templates
# Fixed orders, so that one month's files line up with the next; anything else found follows.
CHANNELS = {Channel.WEB: "Formulir web", Channel.SMS: "SMS", Channel.WHATSAPP: "WhatsApp"}
STATUSES = [ASSIGNED.value, *(s.value for s in (ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.RESPONDED,
                                          ComplaintStatus.REPLIED, ComplaintStatus.DONE, ComplaintStatus.CLOSED))]
FILES = ["by_channel.csv", "by_unit.csv", "by_status.csv", "by_area.csv", "timings.csv", "summary.csv",
         "report.html"]
UNKNOWN_PLACE = ""  # a complaint that names no kelurahan (or no kecamatan): counted, under an empty name
TIMING_COLUMNS = ["complaints", "responded", "response_median_wd", "response_p90_wd", "closed",
                  "closure_median_wd", "closure_p90_wd", "answered_on_time", "answered_late",
                  "overdue_unanswered", "within_deadline_pct"]


@dataclass(frozen=True)
class ComplaintRow:
    """One complaint as the report sees it: where it came from and went, and when. Nothing else."""

    channel: str
    unit_code: str  # of the current (latest) assignment
    status: str
    received_at: datetime
    first_response_at: datetime | None  # first `responded` or `done`
    closed_at: datetime | None  # `done` or `closed`
    # follow_up_due of the assignment in force at the first response; while unanswered, of the current one.
    response_due: date | None
    kecamatan: str | None = None  # as the current assignment carries it
    kelurahan: str | None = None


@dataclass(frozen=True)
class Timings:
    complaints: int
    responded: int
    response_median: float | None  # working days; None: nothing to measure
    response_p90: float | None
    closed: int
    closure_median: float | None
    closure_p90: float | None
    answered_on_time: int
    answered_late: int
    overdue_unanswered: int  # not answered and past its due date on the report's day

    @property
    def decided(self) -> int:
        """Those whose outcome is known: answered, or unanswered past the due date."""
        return self.answered_on_time + self.answered_late + self.overdue_unanswered

    @property
    def within_deadline_pct(self) -> float | None:
        return round(100 * self.answered_on_time / self.decided, 1) if self.decided else None

    def columns(self) -> list:
        return [self.complaints, self.responded, _round(self.response_median), _round(self.response_p90),
                self.closed, _round(self.closure_median), _round(self.closure_p90), self.answered_on_time,
                self.answered_late, self.overdue_unanswered, self.within_deadline_pct]


@dataclass(frozen=True)
class Report:
    period_from: date
    period_to: date
    as_of: datetime  # when the figures were taken (deadlines not yet past are still running)
    by_channel: list[tuple[str, int]]
    by_unit: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    by_area: list[tuple[str, str, int]]  # (kecamatan, kelurahan, complaints): every kelurahan, then the unknown
    overall: Timings
    per_unit: dict[str, Timings]


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as a spreadsheet's PERCENTILE.INC (and MEDIAN at 0.5),
    so that the PPID can check any figure by hand."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def timings(rows: Sequence[ComplaintRow], calendar: WorkingCalendar, today: date) -> Timings:
    response = [calendar.working_days_between(r.received_at, r.first_response_at)
                for r in rows if r.first_response_at is not None]
    closure = [calendar.working_days_between(r.received_at, r.closed_at) for r in rows if r.closed_at is not None]
    on_time = late = overdue = 0
    for r in rows:
        if r.response_due is None:
            continue  # no deadline recorded: neither on time nor late
        if r.first_response_at is not None:
            if r.first_response_at.astimezone(WIB).date() <= r.response_due:
                on_time += 1
            else:
                late += 1
        elif r.response_due < today:  # as the deadline watcher: overdue the day after the due date
            overdue += 1
    return Timings(len(rows), len(response), percentile(response, 0.5), percentile(response, 0.9),
                   len(closure), percentile(closure, 0.5), percentile(closure, 0.9), on_time, late, overdue)


def build_report(rows: Sequence[ComplaintRow], calendar: WorkingCalendar, *, period_from: date, period_to: date,
                 as_of: datetime, units: Iterable[str] = ()) -> Report:
    """The figures from the period's rows. `units`: the registry's codes, listed even with no complaint."""
    today = as_of.astimezone(WIB).date()
    unit_codes = _ordered(units, (r.unit_code for r in rows))
    per_unit = {code: timings([r for r in rows if r.unit_code == code], calendar, today) for code in unit_codes}
    return Report(
        period_from=period_from, period_to=period_to, as_of=as_of,
        by_channel=_counts(CHANNELS, (r.channel for r in rows)),
        by_unit=[(code, per_unit[code].complaints) for code in unit_codes],
        by_status=_counts(STATUSES, (r.status for r in rows)),
        by_area=_by_area(rows),
        overall=timings(rows, calendar, today), per_unit=per_unit)


def tables(report: Report, unit_names: dict[str, str]) -> dict[str, list[list]]:
    """Each CSV file's rows, header first."""
    period = [report.period_from.isoformat(), report.period_to.isoformat(),
              report.as_of.astimezone(WIB).isoformat(timespec="seconds")]
    return {
        "by_channel.csv": [["channel", "complaints"], *map(list, report.by_channel)],
        "by_unit.csv": [["unit_code", "unit_name", "complaints"],
                        *([code, unit_names.get(code, ""), n] for code, n in report.by_unit)],
        "by_status.csv": [["status", "status_label", "complaints"],
                          *([status, STATUS_WORDS.get(status, status), n] for status, n in report.by_status)],
        "by_area.csv": [["kecamatan", "kelurahan", "complaints"], *map(list, report.by_area)],
        "timings.csv": [["unit_code", "unit_name", *TIMING_COLUMNS],
                        *([code, unit_names.get(code, ""), *t.columns()] for code, t in report.per_unit.items())],
        "summary.csv": [["period_from", "period_to", "as_of", *TIMING_COLUMNS], [*period, *report.overall.columns()]],
    }


def csv_text(table: list[list]) -> str:
    """One CSV file's text (empty cells for missing figures)."""
    out = io.StringIO()
    csv.writer(out).writerows([["" if v is None else v for v in row] for row in table])
    return out.getvalue()


def render_html(report: Report, unit_names: dict[str, str]) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    env.filters.update(angka=_angka, desimal=_desimal, tanggal=_tanggal)
    return env.get_template("report.html").render(
        report=report, unit_names=unit_names,
        channel_chart=_bars([(CHANNELS.get(c, c), n) for c, n in report.by_channel]),
        unit_chart=_bars(report.by_unit),
        status_chart=_bars([(STATUS_WORDS.get(s, s), n) for s, n in report.by_status]),
        kecamatan_chart=_bars(_per_kecamatan(report.by_area)),
        as_of=report.as_of.astimezone(WIB))


# The thin layer: what the router's tables hold, and the files.

# Each complaint received in the period, with its current unit and the due date its first response is
# judged by: that of the latest assignment made by the time of the response (the first one at least).
_ROWS = """
    SELECT c.channel, c.status, c.received_at, c.first_response_at, c.closed_at, cur.unit_code,
           CASE WHEN c.first_response_at IS NULL THEN cur.follow_up_due ELSE then_.follow_up_due END AS response_due,
           cur.event -> 'place' ->> 'kecamatan' AS kecamatan, cur.event -> 'place' ->> 'kelurahan' AS kelurahan
    FROM complaints c
    JOIN LATERAL (SELECT unit_code, follow_up_due, event FROM assignments WHERE complaint_id = c.complaint_id
                  ORDER BY sequence DESC LIMIT 1) cur ON true
    LEFT JOIN LATERAL (SELECT follow_up_due FROM assignments
                       WHERE complaint_id = c.complaint_id AND (assigned_at <= c.first_response_at OR sequence = 1)
                       ORDER BY sequence DESC LIMIT 1) then_ ON c.first_response_at IS NOT NULL
    WHERE c.received_at >= $1 AND c.received_at < $2 AND c.merged_into IS NULL"""  # merged ones count once


async def fetch_rows(conn: asyncpg.Connection, period_from: date, period_to: date) -> list[ComplaintRow]:
    start = datetime.combine(period_from, time(), WIB)
    end = datetime.combine(period_to + timedelta(days=1), time(), WIB)
    # One snapshot: the counts and the timings describe the same moment.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        records = await conn.fetch(_ROWS, start, end)
    return [ComplaintRow(**dict(r)) for r in records]


async def generate(settings: RouterSettings, schema: str, period_from: date, period_to: date, out: Path) -> Report:
    registry = parse_registry(settings.units_file.read_bytes(), settings.units_file)
    conn = await asyncpg.connect(settings.db.url, server_settings={
        "search_path": schema, "application_name": "aduan-router-reports"})
    try:
        rows = await fetch_rows(conn, period_from, period_to)
    finally:
        await conn.close()
    report = build_report(rows, WorkingCalendar(settings.collective_leave), period_from=period_from,
                          period_to=period_to, as_of=datetime.now(UTC), units=[u.code for u in registry.units])
    names = {unit.code: unit.name for unit in registry.units}
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables(report, names).items():
        (out / name).write_text(csv_text(table), encoding="utf-8", newline="")
    (out / "report.html").write_text(render_html(report, names), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.router.reports", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="period_from", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="period_to", type=date.fromisoformat, required=True, help="YYYY-MM-DD, inclusive")
    parser.add_argument("--out", type=Path, help="folder for the files (default reports/<from>_<to>)")
    parser.add_argument("--schema", default="router", help="the router's schema")
    args = parser.parse_args(argv)
    if args.period_to < args.period_from:
        print("error: --to is before --from", file=sys.stderr)
        return 2
    out = args.out or Path("reports") / f"{args.period_from}_{args.period_to}"
    try:
        report = asyncio.run(generate(RouterSettings(), args.schema, args.period_from, args.period_to, out))
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as error:
        print(f"error: {error}: schema {args.schema!r} is not the router's, or lacks its migrations", file=sys.stderr)
        return 2
    except (RegistryError, OSError, asyncpg.PostgresError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    overall = report.overall
    print(f"wrote {', '.join(FILES)} to {out}")
    print(f"complaints={overall.complaints} responded={overall.responded} "
          f"response_median_wd={_round(overall.response_median)} response_p90_wd={_round(overall.response_p90)} "
          f"within_deadline_pct={overall.within_deadline_pct}")
    return 0


def _ordered(known: Iterable[str], found: Iterable[str]) -> list[str]:
    known = list(dict.fromkeys(known))
    return known + sorted(set(found) - set(known))


def _counts(known: Iterable[str], values: Iterable[str]) -> list[tuple[str, int]]:
    counted = Counter(values)
    return [(key, counted[key]) for key in _ordered(known, counted)]


def _by_area(rows: Sequence[ComplaintRow]) -> list[tuple[str, str, int]]:
    """Every kelurahan of the city in the file's order (zeros too), then what was found outside it: a
    kecamatan without kelurahan, no place at all."""
    counted = Counter((r.kecamatan or UNKNOWN_PLACE, r.kelurahan or UNKNOWN_PLACE) for r in rows)
    known = [(kecamatan, kelurahan) for kecamatan, names in areas().items() for kelurahan in names]
    return [(*area, counted[area]) for area in known] + [
        (*area, n) for area, n in sorted(counted.items()) if area not in set(known)]


def _per_kecamatan(by_area: list[tuple[str, str, int]]) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for kecamatan, _, n in by_area:
        totals[kecamatan or "(tidak diketahui)"] += n
    return list(totals.items())


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _bars(items: list[tuple[str, int]]) -> list[tuple[str, int, float]]:
    """(label, value, bar length as a fraction of the longest)."""
    top = max((n for _, n in items), default=0)
    return [(label, n, n / top if top else 0.0) for label, n in items]


def _angka(value: float | None, decimals: int = 0) -> str:
    """Indonesian notation: 1.234,5; a dash for no value."""
    if value is None:
        return "–"
    return f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _desimal(value: float | None) -> str:
    return _angka(value, 1)


_MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"]


def _tanggal(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"

