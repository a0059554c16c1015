"""A complaint's status as a phone channel answers it: `SURGA CEK <kode lacak>` by SMS, the "Cek status"
button on WhatsApp.

The intakes keep no status of their own and read no other service's tables: they ask the web
intake's public JSON API, which keeps every channel's complaints (docs/adr/0002). When that API
does not answer, StatusUnavailable: the SMS waits in the spool, the WhatsApp webhook is answered
503 and Meta sends it again: no question goes unanswered.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from shared.statuses import CitizenStatus

log = structlog.get_logger(__name__)

SMS_LENGTH = 160
# What a citizen reads in one SMS: the status word with the unit.
STATUS_PHRASE: dict[str, str] = {
    CitizenStatus.DITERIMA: "diterima dan sedang ditelaah",
    CitizenStatus.DITERUSKAN: "diteruskan ke {unit}",
    CitizenStatus.DIPROSES: "sedang diproses {unit}",
    CitizenStatus.DITANGGAPI: "sudah ditanggapi {unit}",
    CitizenStatus.DIBALAS: "dibalas pelapor, menunggu tanggapan {unit}",
    CitizenStatus.SELESAI: "selesai ditindaklanjuti {unit}",
    CitizenStatus.DITUTUP: "ditutup",
    CitizenStatus.DIKEMBALIKAN: "sedang ditelaah ulang",
}
# The statuses a citizen may reply to: after the unit's response, before done or closed (the one list,
# in shared/statuses.py; the web intake and the router refuse the same).
_SHORT_NAME = re.compile(r"\(([^()]+)\)\s*$")  # "Dinas Komunikasi dan Informatika (Diskominfo)"


class StatusUnavailable(Exception):
    """The status API did not answer; the gateway must try again later."""


class PublicStatus(BaseModel):
    """What the SMS reply needs of GET /api/v1/complaints/{code}; other fields are ignored."""

    tracking_code: str
    complaint_id: str
    status: str
    unit_name: str | None = None
    status_at: datetime | None = None
    updated_at: datetime


class StatusLookup:
    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_seconds)

    async def find(self, code: str) -> PublicStatus | None:
        """The complaint's status, or None when no complaint has this code."""
        try:
            answer = await self.client.get(f"/api/v1/complaints/{code}")
        except httpx.HTTPError as error:
            log.warning("status_api_unreachable", error=repr(error))
            raise StatusUnavailable(type(error).__name__) from error
        if answer.status_code in (400, 404):
            return None
        if answer.status_code != 200:
            log.warning("status_api_failed", status=answer.status_code)
            raise StatusUnavailable(f"status API answered {answer.status_code}")
        try:
            return PublicStatus.model_validate_json(answer.content)
        except ValidationError as error:  # a web intake mid-upgrade, say: asking again may work
            raise StatusUnavailable("status API answered something unreadable") from error

    async def close(self) -> None:
        await self.client.aclose()


def _short_unit(found: PublicStatus) -> str:
    unit = found.unit_name or "unit kerja"
    if short := _SHORT_NAME.search(unit):
        unit = short.group(1)  # "BPPKAD" fits an SMS better than the unit's full name
    return unit


def reply_taken(found: PublicStatus) -> str:
    return (f"SURGA: balasan Anda untuk aduan {found.tracking_code} diteruskan ke {_short_unit(found)}. "
            "Aduan tetap terbuka sampai unit menanggapi kembali.")


def reply_refused(found: PublicStatus) -> str:
    return (f"SURGA: aduan {found.tracking_code} belum dapat dibalas: balasan hanya untuk aduan yang sudah "
            "ditanggapi unit dan belum selesai atau ditutup.")


def status_reply(found: PublicStatus, zone: ZoneInfo, public_base_url: str) -> str:
    """One SMS where possible: code, status, unit, date, and the page with the whole history."""
    unit = _short_unit(found)
    phrase = STATUS_PHRASE.get(found.status, found.status).format(unit=unit)
    day = (found.status_at or found.updated_at).astimezone(zone).strftime("%d-%m-%Y")
    text = f"SURGA: aduan {found.tracking_code} {phrase} ({day})."
    with_link = f"{text} Rincian: {public_base_url}/status?kode={found.tracking_code}"
    return with_link if len(with_link) <= SMS_LENGTH else text


def not_found_reply(typed: str, public_base_url: str) -> str:
    return (f"SURGA: kode aduan {typed[:20]} tidak ditemukan. Periksa kembali kodenya, "
            f"atau cek di {public_base_url}/status")
