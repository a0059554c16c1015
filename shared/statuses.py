"""The one status vocabulary of a complaint after routing, public: the router stores it, the status
events carry it, and the citizen's channels (the web status page, SMS and WhatsApp) show it in words.

Two sets of names for the same life, and the one map between them:

- `ComplaintStatus`: where a status change leads (on complaints.status.v1 and in the router's database),
  and `AssignedStatus.ASSIGNED`, where a complaint stands before any change and again after each
  re-assignment (an assignment is its own event, ComplaintAssigned). `CaseStatus` is either.
- `CitizenStatus`: what the citizen reads (the web intake's public API `status` field, the SMS and
  WhatsApp status replies): one word per step, plus the receipt, the assignment and the SP4N-LAPOR! link.

The strings are those on the wire and in the databases: never rename a value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ComplaintStatus(StrEnum):
    """Where a complaint stands after its assignment (which is ComplaintAssigned, on its own topic)."""

    ACKNOWLEDGED = "acknowledged"  # the unit has read it and takes it on
    RESPONDED = "responded"  # the unit answered the citizen (LAPOR!: ditindaklanjuti)
    DONE = "done"  # the unit marked it finished (LAPOR!: selesai)
    CLOSED = "closed"  # closed by the system: no reply from the citizen within the deadline after a response
    REPLIED = "replied"  # the citizen answered the response: it stays open and the unit answers again
    RETURNED = "returned"  # the unit said "not our authority": back to triage (a new assignment follows)


class AssignedStatus(StrEnum):
    """The status of a complaint no change has moved on yet: just assigned, or re-assigned."""

    ASSIGNED = "assigned"


ASSIGNED: Final = AssignedStatus.ASSIGNED
CaseStatus = AssignedStatus | ComplaintStatus  # where a complaint stands in the router (complaints.status)


def case_status(value: str) -> CaseStatus:
    """A stored status as the vocabulary's member; ValueError for a string that is none."""
    return ASSIGNED if value == ASSIGNED else ComplaintStatus(value)


# A reply answers a response; before one there is nothing to reply to, after done or closure it is too late.
REPLY_ALLOWED_FROM: Final = frozenset({ComplaintStatus.RESPONDED, ComplaintStatus.REPLIED})


class CitizenStatus(StrEnum):
    """A complaint's status as the citizen reads it (the public status API, SMS and WhatsApp replies)."""

    DITERIMA = "diterima"  # received by an intake
    DITERUSKAN = "diteruskan"  # assigned to a unit (again after a re-assignment)
    DIPROSES = "diproses"
    DITANGGAPI = "ditanggapi"
    DIBALAS = "dibalas"
    SELESAI = "selesai"
    DITUTUP = "ditutup"
    DIKEMBALIKAN = "dikembalikan"
    TERCATAT_LAPOR = "tercatat_lapor"  # a history entry only (the SP4N-LAPOR! link), never the current status


# What the citizen reads for each status change.
CITIZEN_STATUS: Final[dict[ComplaintStatus, CitizenStatus]] = {
    ComplaintStatus.ACKNOWLEDGED: CitizenStatus.DIPROSES,
    ComplaintStatus.RESPONDED: CitizenStatus.DITANGGAPI,
    ComplaintStatus.DONE: CitizenStatus.SELESAI,
    ComplaintStatus.CLOSED: CitizenStatus.DITUTUP,
    ComplaintStatus.RETURNED: CitizenStatus.DIKEMBALIKAN,
    ComplaintStatus.REPLIED: CitizenStatus.DIBALAS,
}
# The statuses, as the citizen reads them, at which a citizen may reply (web form, SMS, WhatsApp).
CITIZEN_MAY_REPLY: Final = frozenset(CITIZEN_STATUS[status] for status in REPLY_ALLOWED_FROM)
