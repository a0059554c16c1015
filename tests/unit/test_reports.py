"""The report's figures from rows, computed by hand: working days, percentiles, the share within deadline."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from services.router.lifecycle.working_days import WIB, WorkingCalendar
from services.router.reports import (
    ComplaintRow,
    build_report,
    percentile,
    render_html,
    tables,
    timings,
)

CALENDAR = WorkingCalendar()
AS_OF = datetime(2026, 11, 28, 7, 0, tzinfo=WIB)


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


def row(received: str, responded: str | None = None, closed: str | None = None, due: date | None = None, *,
        channel: str = "web", unit: str = "bppkad", status: str = "assigned", kecamatan: str | None = None,
        kelurahan: str | None = None) -> ComplaintRow:
    return ComplaintRow(channel=channel, unit_code=unit, status=status, received_at=wib(received),
                        kecamatan=kecamatan, kelurahan=kelurahan,
                        first_response_at=wib(responded) if responded else None,
                        closed_at=wib(closed) if closed else None, response_due=due)


@pytest.mark.parametrize(("received", "answered", "days"), [
    ("2026-08-12T08:00", "2026-08-12T16:00", 0),  # the same day
    ("2026-08-10T08:00", "2026-08-11T08:00", 1),  # Monday to Tuesday
    ("2026-08-07T15:00", "2026-08-10T09:00", 1),  # Friday to Monday: the weekend does not count
    ("2026-08-08T10:00", "2026-08-10T09:00", 1),  # received on a Saturday
    ("2026-08-14T10:00", "2026-08-18T09:00", 1),  # Friday to Tuesday over the weekend and 17 August
    ("2026-08-12T08:00", "2026-08-19T16:00", 4),  # Wednesday to Wednesday over 17 August
    ("2026-08-03T09:00", "2026-08-25T10:00", 14),  # three weeks, 17 August and the Prophet's Birthday (25th)
    ("2026-08-12T08:00", "2026-08-11T08:00", 0),  # a response stamped before receipt is not negative
])
def test_working_days_count_the_days_after_receipt_up_to_the_response(received, answered, days):
    assert CALENDAR.working_days_between(wib(received), wib(answered)) == days


def test_working_days_are_counted_on_dates_in_wib_not_utc():
    received = datetime.fromisoformat("2026-08-13T18:00:00+00:00")  # Friday 14 August, 01:00 WIB
    answered = datetime.fromisoformat("2026-08-14T16:30:00+00:00")  # still Friday, 23:30 WIB
    assert CALENDAR.working_days_between(received, answered) == 0
    assert CALENDAR.working_days_between(received, datetime.fromisoformat("2026-08-17T17:30:00+00:00")) == 1


def test_collective_leave_is_not_a_working_day():
    with_leave = WorkingCalendar([date(2026, 8, 18)])
    assert with_leave.working_days_between(wib("2026-08-14T10:00"), wib("2026-08-18T09:00")) == 0
    assert with_leave.working_days_between(wib("2026-08-14T10:00"), wib("2026-08-19T09:00")) == 1


@pytest.mark.parametrize(("values", "median", "p90"), [
    ([], None, None),
    ([5], 5, 5),
    ([3, 1], 2, 2.8),
    ([4, 1, 3, 2], 2.5, 3.7),
    ([1, 1, 2, 4, 6, 7], 3, 6.5),
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], 0, 1),  # one slow answer in ten barely moves the 90th percentile
])
def test_median_and_90th_percentile_interpolate_like_a_spreadsheet(values, median, p90):
    assert percentile(values, 0.5) == pytest.approx(median)
    assert percentile(values, 0.9) == pytest.approx(p90)


def test_unanswered_complaints_count_in_totals_but_not_in_the_percentiles():
    figures = timings([row("2026-08-10T08:00", "2026-08-11T08:00"), row("2026-08-10T08:00"),
                       row("2026-08-10T08:00", "2026-08-14T08:00", closed="2026-08-14T08:00")], CALENDAR, AS_OF.date())
    assert (figures.complaints, figures.responded, figures.closed) == (3, 2, 1)
    assert (figures.response_median, figures.response_p90) == (2.5, pytest.approx(3.7))
    assert (figures.closure_median, figures.closure_p90) == (4, 4)


def test_within_deadline_is_a_response_on_or_before_the_due_date_and_overdue_silence_counts_against():
    today = date(2026, 8, 24)
    figures = timings([
        row("2026-08-12T08:00", "2026-08-19T16:00", due=date(2026, 8, 19)),  # on the due date: on time
        row("2026-08-03T09:00", "2026-08-11T09:00", due=date(2026, 8, 10)),  # a day late
        row("2026-08-10T09:00", due=date(2026, 8, 17)),  # unanswered, due date past: counts as late
        row("2026-08-17T09:00", due=date(2026, 8, 24)),  # unanswered, due today: still running, not counted
        row("2026-08-10T09:00", "2026-08-11T09:00", due=None),  # no deadline recorded: not counted
    ], CALENDAR, today)
    assert (figures.answered_on_time, figures.answered_late, figures.overdue_unanswered) == (1, 1, 1)
    assert figures.decided == 3
    assert figures.within_deadline_pct == 33.3
    assert timings([row("2026-08-17T09:00", due=date(2026, 8, 24))], CALENDAR, today).within_deadline_pct is None


def test_the_response_date_is_compared_in_wib():
    # 00:30 WIB the day after the due date is still the due date in UTC (17:30): late all the same.
    on_time = row("2026-08-12T08:00", "2026-08-19T23:30", due=date(2026, 8, 19))
    late = row("2026-08-12T08:00", "2026-08-20T00:30", due=date(2026, 8, 19))
    figures = timings([on_time, late], CALENDAR, AS_OF.date())
    assert (figures.answered_on_time, figures.answered_late) == (1, 1)


def report_of(rows):
    return build_report(rows, CALENDAR, period_from=date(2026, 8, 1), period_to=date(2026, 8, 31), as_of=AS_OF,
                        units=["inspektorat", "bppkad", "prokopim"])


def test_counts_keep_a_fixed_order_list_zeros_and_add_what_else_was_found():
    report = report_of([
        row("2026-08-10T08:00", channel="sms", unit="bppkad", status="responded"),
        row("2026-08-10T08:00", channel="sms", unit="bppkad", status="done"),
        row("2026-08-10T08:00", channel="telegram", unit="kelurahan-a", status="assigned"),
    ])
    assert report.by_channel == [("web", 0), ("sms", 2), ("whatsapp", 0), ("telegram", 1)]
    assert report.by_unit == [("inspektorat", 0), ("bppkad", 2), ("prokopim", 0), ("kelurahan-a", 1)]
    assert report.by_status == [("assigned", 1), ("acknowledged", 0), ("responded", 1), ("replied", 0), ("done", 1),
                                ("closed", 0)]
    assert report.per_unit["bppkad"].complaints == 2 and report.per_unit["prokopim"].complaints == 0


def test_complaints_count_by_kelurahan_listing_every_one_then_what_named_none():
    report = report_of([
        row("2026-08-10T08:00", kecamatan="Pesantren", kelurahan="Burengan"),
        row("2026-08-11T08:00", kecamatan="Pesantren", kelurahan="Burengan"),
        row("2026-08-11T08:00", kecamatan="Kota"),  # a kecamatan named, no kelurahan
        row("2026-08-12T08:00"),
    ])
    assert len(report.by_area) == 46 + 2 and report.by_area[0] == ("Kota", "Balowerti", 0)
    assert ("Pesantren", "Burengan", 2) in report.by_area
    assert report.by_area[-2:] == [("", "", 1), ("Kota", "", 1)]
    assert sum(n for *_, n in report.by_area) == 4
    assert tables(report, {})["by_area.csv"][0] == ["kecamatan", "kelurahan", "complaints"]


def test_per_unit_and_overall_timings_split_the_same_rows():
    report = report_of([
        row("2026-08-14T10:00", "2026-08-18T09:00", "2026-08-20T15:00", date(2026, 8, 21), unit="bppkad"),
        row("2026-08-12T08:00", "2026-08-19T16:00", due=date(2026, 8, 19), unit="bppkad"),
        row("2026-08-03T09:00", "2026-08-11T09:00", "2026-08-25T10:00", date(2026, 8, 10), unit="inspektorat"),
        row("2026-08-20T09:00", due=date(2026, 8, 27), unit="inspektorat"),
    ])
    bppkad, inspektorat = report.per_unit["bppkad"], report.per_unit["inspektorat"]
    assert (bppkad.response_median, bppkad.response_p90, bppkad.within_deadline_pct) == (
        2.5, pytest.approx(3.7), 100.0)
    assert (inspektorat.response_median, inspektorat.closure_median, inspektorat.within_deadline_pct) == (6, 14, 0.0)
    assert (report.overall.complaints, report.overall.responded) == (4, 3)
    assert (report.overall.response_median, report.overall.closure_median) == (4, 8.5)
    assert report.overall.within_deadline_pct == 50.0


def test_csv_tables_have_stable_headers_and_empty_cells_for_no_value():
    report = report_of([row("2026-08-14T10:00", "2026-08-18T09:00", due=date(2026, 8, 21))])
    files = tables(report, {"bppkad": "BPPKAD"})
    assert files["by_channel.csv"][0] == ["channel", "complaints"]
    assert files["by_unit.csv"][2] == ["bppkad", "BPPKAD", 1]
    assert files["by_status.csv"][1] == ["assigned", "baru", 1]
    assert files["timings.csv"][0][:4] == ["unit_code", "unit_name", "complaints", "responded"]
    assert files["timings.csv"][3] == ["prokopim", "", 0, 0, None, None, 0, None, None, 0, 0, 0, None]
    header, summary = files["summary.csv"]
    assert dict(zip(header, summary, strict=True)) == {
        "period_from": "2026-08-01", "period_to": "2026-08-31", "as_of": "2026-11-28T07:00:00+07:00",
        "complaints": 1, "responded": 1, "response_median_wd": 1.0, "response_p90_wd": 1.0, "closed": 0,
        "closure_median_wd": None, "closure_p90_wd": None, "answered_on_time": 1, "answered_late": 0,
        "overdue_unanswered": 0, "within_deadline_pct": 100.0}


def test_the_page_is_self_contained_indonesian_with_svg_charts_and_escapes_names():
    report = report_of([
        row("2026-08-14T10:00", "2026-08-18T09:00", due=date(2026, 8, 21), unit="bppkad"),
        row("2026-08-12T08:00", "2026-08-20T16:00", due=date(2026, 8, 19), unit="bppkad", channel="whatsapp"),
    ])
    page = render_html(report, {"bppkad": "Badan <Pendapatan> & Aset"})
    assert page.count("<svg") == 4  # channel, unit, kecamatan, status
    assert "<script" not in page and not re.search(r"(src|href)=", page)  # nothing to fetch, nothing to run
    assert "Badan &lt;Pendapatan&gt; &amp; Aset" in page
    assert 'lang="id"' in page and "penugasan terakhir" in page
    assert "tidak dalam\n    median dan persentil ke-90" in page
    assert "1 Agustus 2026" in page and "31 Agustus 2026" in page
    assert "3,0 / 4,6" in page  # median / p90 of 1 and 5 working days, in Indonesian notation
    assert "50,0% (1/2)" in page
