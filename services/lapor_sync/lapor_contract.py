"""Our explicit contract with SP4N-LAPOR!, and the client that speaks it.

The LAPOR! integration API is documented only to registered agency developers, so this
module defines the small contract we rely on: create a report, find it by our reference,
add a follow-up, read its status, with bearer-token auth. When an agency developer account
gives the real field names and paths, this module is the one place to change.
Tested against `standins/lapor.py`, a local stand-in that speaks exactly this contract.

    POST /api/v1/reports                     CreateReport -> 201 Report (409 + Report if reference exists)
    GET  /api/v1/reports?reference=<ref>     -> 200 {"items": [Report]}
    GET  /api/v1/reports/<tracking_id>       -> 200 Report
    POST /api/v1/reports/<tracking_id>/followups  FollowUp -> 201 (409 if its reference exists);
                                             the report takes the follow-up's status
"""

from __future__ import annotations

from datetime import datetime

import httpx
from pydantic import BaseModel

from shared.contracts import Anonymity, ComplaintAssigned, ComplaintStatus, ComplaintStatusChanged
from shared.jobs import raise_for_http

REPORTS_PATH = "/api/v1/reports"


class LaporReporter(BaseModel):
    name: str | None = None
    phone: str | None = None
    email: str | None = None


class CreateReport(BaseModel):
    reference: str  # our complaint_id: the key that makes creation idempotent
    title: str
    content: str
    channel: str
    anonymity: Anonymity  # LAPOR!'s own options: anonim (public, identity hidden), rahasia (not public)
    reporter: LaporReporter | None  # None whenever the reporter asked for anonimity
    unit: str
    submitted_at: datetime


class Report(BaseModel):
    tracking_id: str
    reference: str
    status: str


class FollowUp(BaseModel):
    reference: str  # our assignment or status change id: LAPOR! answers 409 to a second follow-up with the same one
    text: str
    status: str  # what the report's status becomes


FORWARDED = "Diteruskan"
FOLLOWED_UP = "Ditindaklanjuti"
FINISHED = "Selesai"
# Our statuses that LAPOR! hears about, as LAPOR!'s. "acknowledged" is internal to the unit; a return
# is followed by a re-assignment, which is posted as its own follow-up.
LAPOR_STATUS = {ComplaintStatus.RESPONDED: FOLLOWED_UP, ComplaintStatus.DONE: FINISHED,
                ComplaintStatus.CLOSED: FINISHED}


def follow_up_for_reassignment(assigned: ComplaintAssigned) -> FollowUp:
    return FollowUp(reference=assigned.assignment_id, status=FORWARDED,
                    text=f"Aduan dialihkan kepada {assigned.unit.name}. Alasan: {assigned.reason or '-'}")


def follow_up_for_status(change: ComplaintStatusChanged, status: str) -> FollowUp:
    """`status` is LAPOR!'s: the change's own, or a newer one's if this change was overtaken."""
    if change.status == ComplaintStatus.CLOSED:
        text = "Aduan ditutup: tidak ada tanggapan pelapor sampai batas waktu setelah tindak lanjut."
    else:
        verb = "Tanggapan" if change.status == ComplaintStatus.RESPONDED else "Aduan dinyatakan selesai oleh"
        text = f"{verb} {change.unit.name}: {change.message or '-'}"
    return FollowUp(reference=change.change_id, status=status, text=text)


def report_from_assignment(assigned: ComplaintAssigned) -> CreateReport:
    reporter = assigned.reporter_for_unit
    return CreateReport(
        reference=assigned.complaint_id,
        title=assigned.text[:80],
        content=assigned.text,
        channel=assigned.channel,
        anonymity=assigned.anonymity,
        reporter=LaporReporter(**reporter.model_dump(mode="json")) if reporter else None,
        unit=assigned.unit.name,
        submitted_at=assigned.received_at,
    )


class LaporClient:
    def __init__(self, base_url: str, token: str, timeout_seconds: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_seconds, transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def find_by_reference(self, reference: str) -> Report | None:
        response = await self._http.get(REPORTS_PATH, params={"reference": reference})
        raise_for_http(response, "LAPOR! find")
        items = response.json().get("items", [])
        return Report.model_validate(items[0]) if items else None

    async def create_report(self, report: CreateReport) -> Report:
        response = await self._http.post(REPORTS_PATH, content=report.model_dump_json(),
                                         headers={"Content-Type": "application/json"})
        if response.status_code == 409:  # already created by an earlier attempt
            return Report.model_validate(response.json())
        raise_for_http(response, "LAPOR! create")
        return Report.model_validate(response.json())

    async def get_report(self, tracking_id: str) -> Report:
        response = await self._http.get(f"{REPORTS_PATH}/{tracking_id}")
        raise_for_http(response, "LAPOR! status")
        return Report.model_validate(response.json())

    async def add_follow_up(self, tracking_id: str, follow_up: FollowUp) -> None:
        response = await self._http.post(f"{REPORTS_PATH}/{tracking_id}/followups",
                                         content=follow_up.model_dump_json(),
                                         headers={"Content-Type": "application/json"})
        if response.status_code == 409:  # this follow-up was posted by an earlier attempt
            return
        raise_for_http(response, "LAPOR! follow-up")
