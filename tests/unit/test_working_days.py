"""Working days in Kediri (WIB): weekends, public holidays and collective leave do not count."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.router.lifecycle.working_days import WorkingCalendar


def test_working_days_skip_weekends_public_holidays_and_collective_leave():
    calendar = WorkingCalendar(collective_leave=[date(2026, 12, 24)])
    friday = datetime(2026, 12, 18, 9, 0, tzinfo=UTC)
    # Mon 21, Tue 22, Wed 23 count; Thu 24 is collective leave, Fri 25 Christmas; Mon 28 is the 4th.
    assert calendar.add_working_days(friday, 3) == date(2026, 12, 23)
    assert calendar.add_working_days(friday, 4) == date(2026, 12, 28)
    assert not calendar.is_working_day(date(2026, 8, 17))  # Independence Day
    late_evening_utc = datetime(2026, 12, 18, 20, 0, tzinfo=UTC)  # already Saturday in Kediri (WIB)
    assert calendar.add_working_days(late_evening_utc, 1) == date(2026, 12, 21)


def test_working_days_left_count_down_to_the_due_date_then_count_the_lateness():
    calendar = WorkingCalendar(collective_leave=[date(2026, 12, 24)])
    friday = date(2026, 12, 18)
    assert calendar.working_days_left(friday, friday) == 0  # due today
    assert calendar.working_days_left(friday, date(2026, 12, 21)) == 1  # the weekend does not count
    assert calendar.working_days_left(friday, date(2026, 12, 28)) == 4  # nor leave and Christmas
    assert calendar.working_days_left(date(2026, 12, 28), friday) == -4  # late by as many
    assert calendar.working_days_left(date(2026, 12, 20), friday) == 0  # due Friday, now Sunday: late by 0 days
