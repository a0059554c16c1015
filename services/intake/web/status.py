"""The status read model: what a citizen sees when checking a tracking code.

Built from the events of every channel (docs/adr/0002): received, each assignment, each status
change and the SP4N-LAPOR! link, one history row each. Escalations are internal and never
stored. The public view carries no reporter identity and no complaint text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

from shared.contracts import (
    ComplaintAssigned,
    ComplaintReceived,
    ComplaintStatus,
    ComplaintStatusChanged,
    LaporReportLinked,
    Unit,
)
from shared.statuses import CITIZEN_STATUS, CitizenStatus

# Rank breaks ties at equal sequences: a complaint's assignment comes after its receipt, and
# its status changes after the assignment they belong to.
RECEIVED, ASSIGNED, CHANGED = 1, 2, 3
# Only a response or a closing note is written for the citizen; the reason a unit returned a
# complaint is for the PPID secretariat, and the citizen's own reply is for the unit, so neither
# is even stored.
SHOWS_MESSAGE = {ComplaintStatus.RESPONDED, ComplaintStatus.DONE}
LAPOR = CitizenStatus.TERCATAT_LAPOR
# The citizen may write back once the unit has responded, until the complaint is done or closed.
STATUS_TEXT: dict[str, str] = {
    CitizenStatus.DITERIMA: "Aduan diterima dan sedang ditelaah.",
    CitizenStatus.DITERUSKAN: "Aduan diteruskan kepada {unit} untuk ditindaklanjuti.",
    CitizenStatus.DIPROSES: "Aduan diterima oleh {unit} dan sedang diproses.",
    CitizenStatus.DITANGGAPI: "Aduan telah ditanggapi oleh {unit}.",
    CitizenStatus.SELESAI: "Aduan selesai ditindaklanjuti oleh {unit}.",
    CitizenStatus.DITUTUP: "Aduan ditutup.",
    CitizenStatus.DIKEMBALIKAN: "Aduan ditelaah ulang untuk diteruskan kepada unit yang berwenang.",
    CitizenStatus.DIBALAS: "Pelapor membalas tanggapan; {unit} akan menanggapi kembali.",
    CitizenStatus.TERCATAT_LAPOR: "Aduan tercatat di SP4N-LAPOR! dengan nomor {lapor}.",
}


def describe(status: str, unit: str | None, message: str | None = None, lapor: str | None = None) -> str:
    text = STATUS_TEXT[status].format(unit=unit or "unit kerja", lapor=lapor)
    return f"{text} Tanggapan: {message}" if message else text


class HistoryEntry(BaseModel):
    at: datetime
    status: str = Field(description="diterima, diteruskan, diproses, ditanggapi, dibalas, selesai, ditutup, "
                                    "dikembalikan or tercatat_lapor")
    description: str = Field(description="for the citizen, in Indonesian")


class ComplaintStatusView(BaseModel):
    """Where a complaint stands. Never the reporter's identity, never the complaint text."""

    tracking_code: str
    complaint_id: str
    channel: str
    status: str = Field(description="the current status: the latest step, never an older one delivered late")
    description: str
    unit_code: str | None
    unit_name: str | None
    received_at: datetime | None = Field(description="empty for a moment when a status change is read first")
    status_at: datetime | None = Field(description="when the current status was reached")
    updated_at: datetime
    history: list[HistoryEntry] = Field(description="every step, oldest first")
    category: str | None = Field(default=None, description="the category the citizen chose (web, Open311), if any")


# One statement: the history row (kept once per entry_key) and the current status (moved only
# forwards along assignment_sequence, status_sequence, rank).
_RECORD = """
WITH entry AS (
    INSERT INTO status_history (tracking_code, entry_key, status, at, unit_name, message,
                                assignment_sequence, status_sequence)
    VALUES ($1, $13, $4, $12, $7, $11, $9, $10)
    ON CONFLICT (tracking_code, entry_key) DO NOTHING)
INSERT INTO complaint_status (tracking_code, complaint_id, channel, status, status_rank, unit_code, unit_name,
                              received_at, assignment_sequence, status_sequence, message, status_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (tracking_code) DO UPDATE
SET status = EXCLUDED.status, status_rank = EXCLUDED.status_rank, unit_code = EXCLUDED.unit_code,
    unit_name = EXCLUDED.unit_name, assignment_sequence = EXCLUDED.assignment_sequence,
    status_sequence = EXCLUDED.status_sequence, message = EXCLUDED.message, status_at = EXCLUDED.status_at,
    received_at = COALESCE(complaint_status.received_at, EXCLUDED.received_at), updated_at = now()
WHERE (complaint_status.assignment_sequence, complaint_status.status_sequence, complaint_status.status_rank)
      <= (EXCLUDED.assignment_sequence, EXCLUDED.status_sequence, EXCLUDED.status_rank)
"""


@dataclass(frozen=True)
class Step:
    """One event as the read model keeps it."""

    entry_key: str  # the history row's key: the same event delivered again is the same row
    status: str
    rank: int
    at: datetime
    assignment_sequence: int = 0
    status_sequence: int = 0
    unit: Unit | None = None
    message: str | None = None
    received_at: datetime | None = None

    def args(self, event: ComplaintReceived | ComplaintAssigned | ComplaintStatusChanged) -> tuple:
        """The parameters of _RECORD, in order."""
        return (event.tracking_code, event.complaint_id, event.channel, self.status, self.rank,
                self.unit.code if self.unit else None, self.unit.name if self.unit else None, self.received_at,
                self.assignment_sequence, self.status_sequence, self.message, self.at, self.entry_key)


def received_step(event: ComplaintReceived | ComplaintAssigned) -> Step:
    return Step("received", CitizenStatus.DITERIMA, RECEIVED, event.received_at, received_at=event.received_at)


def change_step(event: ComplaintStatusChanged) -> Step:
    return Step(f"status:{event.sequence}", CITIZEN_STATUS[event.status], CHANGED, event.occurred_at,
                event.assignment_sequence, event.sequence, event.unit,
                event.message if event.status in SHOWS_MESSAGE else None)


class StatusRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def received(self, event: ComplaintReceived) -> None:
        """A complaint this intake took, with the category chosen. No fsync wait: a row lost in a database crash
        comes back with the complaint's assignment (without its category: the assignment does not carry it)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit TO OFF")
            await self._steps(conn, event, [received_step(event)])
            if event.category:
                await conn.execute("UPDATE complaint_status SET category = $2 WHERE tracking_code = $1",
                                   event.tracking_code, event.category)

    async def assigned(self, events: list[ComplaintAssigned]) -> None:
        """A batch of assignments, in one transaction. Also the "received" step of complaints from other
        channels: this intake does not read complaints.received.v1 (their reporters are on it), the
        assignment says when it came."""
        if not events:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            for event in sorted(events, key=lambda e: e.tracking_code):  # one lock order for concurrent writers
                await self._steps(conn, event, [received_step(event), Step(
                    f"assigned:{event.sequence}", CitizenStatus.DITERUSKAN, ASSIGNED, event.occurred_at,
                    event.sequence, unit=event.unit, received_at=event.received_at)])

    @staticmethod
    async def _steps(conn: Any, event: ComplaintReceived | ComplaintAssigned, steps: list[Step]) -> None:
        for step in steps:
            if await conn.execute(_RECORD, *step.args(event)) == "INSERT 0 0":
                # A later step is already there, read first from another topic: it lacks the receipt time.
                await conn.execute("UPDATE complaint_status SET received_at = $2"
                                   " WHERE tracking_code = $1 AND received_at IS NULL",
                                   event.tracking_code, step.received_at)

    async def apply(self, events: list) -> None:
        """A batch from complaints.status.v1, in one transaction. Order does not matter: each
        entry is kept once and the current status only moves forwards."""
        changes = sorted((change_step(e).args(e) for e in events if isinstance(e, ComplaintStatusChanged)),
                         key=lambda args: (args[0], args[-1]))  # one lock order for concurrent writers
        links = [(e.tracking_code, f"lapor:{e.lapor_tracking_id}", LAPOR, e.occurred_at, e.lapor_tracking_id)
                 for e in events if isinstance(e, LaporReportLinked)]
        if not changes and not links:
            return  # escalations only
        async with self.pool.acquire() as conn, conn.transaction():
            if changes:
                await conn.executemany(_RECORD, changes)
            if links:
                await conn.executemany(
                    """INSERT INTO status_history (tracking_code, entry_key, status, at, lapor_tracking_id)
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tracking_code, entry_key) DO NOTHING""", links)

    async def find(self, tracking_code: str) -> ComplaintStatusView | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT tracking_code, complaint_id, channel, status, unit_code, unit_name, message, received_at,"
                " status_at, updated_at, category FROM complaint_status WHERE tracking_code = $1", tracking_code)
            if row is None:
                return None
            steps = await conn.fetch(
                "SELECT at, status, unit_name, message, lapor_tracking_id FROM status_history"
                " WHERE tracking_code = $1 ORDER BY at, assignment_sequence, status_sequence", tracking_code)
        return ComplaintStatusView(
            **{key: row[key] for key in ("tracking_code", "channel", "status", "unit_code", "unit_name",
                                         "received_at", "status_at", "updated_at", "category")},
            complaint_id=str(row["complaint_id"]),
            description=describe(row["status"], row["unit_name"], row["message"]),
            history=[HistoryEntry(at=s["at"], status=s["status"],
                                  description=describe(s["status"], s["unit_name"], s["message"],
                                                       s["lapor_tracking_id"])) for s in steps])
