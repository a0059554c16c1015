"""What the casework needs of its storage, as an interface: the PostgreSQL adapter
(services/router/adapters/postgres.py) in the service, an in-memory one in the unit tests
(tests/support/router_memory.py).

One call is one transaction: the complaint is locked, the decision (services/router/application/decisions.py,
pure) is taken on what is stored, and the change and its event (for the outbox) are stored together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from services.router.lifecycle import UnitAction
from services.router.routing.duplicates import Sighting
from shared.contracts import (
    CitizenContactChanged,
    CitizenReplied,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintReceived,
    ComplaintStatusChanged,
)

OutboxEvent = ComplaintAssigned | ComplaintStatusChanged | ComplaintEscalated


class NotFound(Exception):
    """No such complaint, or not one the caller may see (the same answer, so no hint about others')."""


@dataclass(frozen=True)
class StoredAssignment:
    event: ComplaintAssigned
    created: bool  # decided now, not found from an earlier delivery
    published: bool


@dataclass(frozen=True)
class Complaint:
    """A complaint as stored, locked for the transaction: where it stands and its current assignment."""

    complaint_id: str
    tracking_code: str
    status: str
    status_sequence: int  # of its latest status change; 0 before any
    contact_digests: list[str]
    assignment: ComplaintAssigned


@dataclass(frozen=True)
class SearchCriteria:
    """What the back-office's search looks for; every field given must match."""

    tracking_code: str | None = None
    words: tuple[str, ...] = ()  # each somewhere in the complaint's text, case-insensitive
    unit: str | None = None  # the current unit's code
    status: str | None = None
    channel: str | None = None
    kecamatan: str | None = None
    kelurahan: str | None = None
    received_from: date | None = None  # dates in WIB, both inclusive
    received_to: date | None = None

    @property
    def empty(self) -> bool:
        return self == SearchCriteria()


class CaseworkRepository(Protocol):
    async def assign_batch(self, batch: list[ComplaintReceived],
                           decide: Callable[[ComplaintReceived], ComplaintAssigned]) -> list[StoredAssignment]:
        """Store complaints and their first assignments once; a complaint seen before comes back as stored."""

    async def reassign(self, complaint_ref: str, decide: Callable[[ComplaintAssigned, str], ComplaintAssigned],
                       returned_by: str | None = None) -> tuple[ComplaintAssigned, ComplaintStatusChanged | None]:
        """The next assignment; with `returned_by`, also the `returned` status change."""

    async def change_status(self, complaint_ref: str, action: UnitAction, *, actor: str, unit_code: str | None,
                            message: str | None, close_due: Callable[[str], date]) -> ComplaintStatusChanged | None:
        """A unit's or an operator's step; None when it was taken already."""

    async def record_reply(self, reply: CitizenReplied, answer_due: Callable[[str], date],
                           ) -> ComplaintStatusChanged | None:
        """The citizen's reply; None when recorded already."""

    async def sweep(self, today: date, coordinator_email: str | None, limit: int = 200,
                    ) -> list[ComplaintEscalated | ComplaintStatusChanged]:
        """The escalations due today and the closures of silent complaints, each stored once."""

    async def change_citizen_contact(self, change: CitizenContactChanged) -> int:
        """The citizen's new address on every complaint of theirs on that channel; how many."""

    async def inbox(self, unit_code: str, finished_limit: int = 50) -> list[dict[str, Any]]:
        """The unit's open complaints and its latest finished ones."""

    async def complaint_for_unit(self, complaint_ref: str, unit_code: str) -> dict[str, Any]:
        """One complaint of the unit's, with its status changes; NotFound for any other."""

    async def unchecked_for_duplicates(self, limit: int = 100) -> list[Sighting]: ...

    async def open_since(self, since: datetime, limit: int = 1000) -> list[Sighting]: ...

    async def record_duplicates(self, checked: list[str], links: list[tuple[str, str, float, str]]) -> None: ...

    async def possible_duplicates(self, complaint_id: str, unit_code: str | None) -> list[dict[str, Any]]: ...

    async def merge(self, complaint_ref: str, other_ref: str, unit_code: str | None, actor: str) -> tuple[str, str]:
        """The later of two linked open complaints merged into the earlier: (merged, surviving) codes."""

    async def history(self, complaint_ref: str) -> list[dict[str, Any]]:
        """Every assignment of a complaint, oldest first."""

    async def mark_published(self, *events: OutboxEvent) -> None: ...

    async def unpublished(self, older_than_seconds: float, limit: int = 100) -> list[OutboxEvent]:
        """Events stored and not published, oldest first."""
