"""Working days in Kota Kediri: Monday to Friday, minus Indonesian public holidays (the maintained
`holidays` package) and the government's collective leave days (cuti bersama), which are set
by decree each year and so are configuration. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import holidays

from shared.local_time import WIB


class WorkingCalendar:
    def __init__(self, collective_leave: Iterable[date] = ()) -> None:
        self.collective_leave = frozenset(collective_leave)
        self._public = holidays.country_holidays("ID")  # holidays.Indonesia()
        # (date, days) -> deadline: a batch of complaints received on one day asks the same few questions.
        self._after: dict[tuple[date, int], date] = {}

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._public and day not in self.collective_leave

    def add_working_days(self, start: datetime, days: int) -> date:
        """The date `days` working days after `start` (its local date in WIB), e.g. a deadline."""
        first = start.astimezone(WIB).date()
        if (known := self._after.get((first, days))) is not None:
            return known
        day, added = first, 0
        while added < days:
            day += timedelta(days=1)
            added += self.is_working_day(day)
        if len(self._after) > 4096:  # a long-running router sees a few new dates a day; bounded all the same
            self._after.clear()
        self._after[(first, days)] = day
        return day

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after start's date up to and including end's date (dates in WIB): the same day is 0."""
        first, last = start.astimezone(WIB).date(), end.astimezone(WIB).date()
        return sum(self.is_working_day(first + timedelta(days=n)) for n in range(1, (last - first).days + 1))

    def working_days_left(self, today: date, due: date) -> int:
        """Working days after today up to and including due (0 on the due date); once past it, negative:
        the working days it is late by."""
        if due >= today:
            return sum(self.is_working_day(today + timedelta(days=n)) for n in range(1, (due - today).days + 1))
        return -sum(self.is_working_day(due + timedelta(days=n)) for n in range(1, (today - due).days + 1))
