"""Which escalation stage is due: pure, the day passed in.

Each stage watches one deadline, and only while the complaint stands where that deadline still
binds the unit:

    forward    forward_due    not taken on yet (assigned)
    follow_up  follow_up_due  not answered yet (assigned, acknowledged)
    reply      answer_due     the citizen's reply not answered yet (replied)

A stage is due once its deadline has passed (the day after it, in WIB), once per assignment:
a re-assignment gives the new unit its own deadlines and its own escalations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from shared.contracts import EscalationStage
from shared.statuses import ASSIGNED, CaseStatus, ComplaintStatus

# The statuses in which each stage's deadline binds.
PENDING_IN: Final[dict[EscalationStage, frozenset[CaseStatus]]] = {
    EscalationStage.FORWARD: frozenset({ASSIGNED}),
    EscalationStage.FOLLOW_UP: frozenset({ASSIGNED, ComplaintStatus.ACKNOWLEDGED}),
    EscalationStage.REPLY: frozenset({ComplaintStatus.REPLIED}),
}


def pending_pairs() -> tuple[list[str], list[str]]:
    """PENDING_IN as two parallel lists (stage, status), for a query that joins on them."""
    pairs = sorted((stage.value, status.value) for stage, statuses in PENDING_IN.items() for status in statuses)
    return [stage for stage, _ in pairs], [status for _, status in pairs]


@dataclass(frozen=True)
class Deadlines:
    """A complaint's deadlines under its current assignment."""

    forward_due: date | None
    follow_up_due: date | None
    answer_due: date | None

    def of(self, stage: EscalationStage) -> date | None:
        return {EscalationStage.FORWARD: self.forward_due, EscalationStage.FOLLOW_UP: self.follow_up_due,
                EscalationStage.REPLY: self.answer_due}[stage]


def stages_due(status: str, deadlines: Deadlines, today: date,
               escalated: frozenset[EscalationStage] = frozenset()) -> list[tuple[EscalationStage, date]]:
    """The stages to escalate today, with their deadlines, earliest first; none escalated before
    (`escalated`: the stages already escalated for this assignment)."""
    due = [(stage, day) for stage, statuses in PENDING_IN.items()
           if status in statuses and stage not in escalated
           and (day := deadlines.of(stage)) is not None and day < today]
    return sorted(due, key=lambda pair: pair[1])


def closes_silently(status: str, close_due: date | None, today: date) -> bool:
    """An answered complaint the citizen left silent until its close_due closes by itself."""
    return status == ComplaintStatus.RESPONDED and close_due is not None and close_due <= today
