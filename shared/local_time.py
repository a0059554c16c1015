"""Kota Kediri's time zone, WIB (UTC+7), for dates and times people read: deadlines, pages, reports."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")


def wib(moment: datetime) -> str:
    """A moment as people in Kota Kediri read it (a template filter); stored times stay in UTC."""
    return moment.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")
