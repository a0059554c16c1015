"""What people do with complaints after routing, written once for the JSON API and the unit inbox:
store the step, then publish its events (what Kafka does not take now, the outbox publishes later)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.router import lifecycle
from services.router.assignment import build_reassignment
from services.router.live_ruleset import LiveRuleSet
from services.router.repository import NotFound, OutboxEvent, RouterRepository
from services.router.working_days import WorkingCalendar
from shared.channel_kit import InvalidText, clean_text
from shared.contracts import CitizenReplied, ComplaintAssigned, ComplaintStatusChanged


class Desk:
    def __init__(self, repository: Callable[[], RouterRepository], live: LiveRuleSet, calendar: WorkingCalendar,
                 publish: Callable[[OutboxEvent], Awaitable[bool]]) -> None:
        self.repository, self.live, self.calendar, self.publish = repository, live, calendar, publish

    async def act(self, ref: str, action: lifecycle.UnitAction, *, actor: str, unit_code: str | None,
                  message: str | None = None) -> ComplaintStatusChanged | None:
        """A unit's step on its own complaint (`unit_code`), or an operator's on any (None)."""
        registry = self.live.current.registry
        message = _typed(message)
        if action is lifecycle.UnitAction.RESPOND and not message:
            raise lifecycle.TransitionRefused("tanggapan untuk pelapor kosong")

        def close_due(unit: str):
            return self.calendar.add_working_days(datetime.now(UTC), registry.deadlines_for(unit).close_after_response)

        change = await self.repository().change_status(ref, action, actor=actor, unit_code=unit_code,
                                                       message=message, close_due=close_due)
        if change is not None:
            await self.publish(change)
        return change

    async def take_reply(self, reply: CitizenReplied) -> ComplaintStatusChanged | None:
        """The citizen wrote back after a response: recorded once, and the unit must answer again."""
        registry = self.live.current.registry

        def answer_due(unit: str):
            return self.calendar.add_working_days(reply.received_at, registry.deadlines_for(unit).follow_up)

        try:
            change = await self.repository().record_reply(reply, answer_due)
        except NotFound as missing:  # refused like any reply that does not fit: retrying cannot help
            raise lifecycle.TransitionRefused(f"no complaint {reply.complaint_id} with code {reply.tracking_code}"
                                              ) from missing
        if change is not None:
            await self.publish(change)
        return change

    async def reassign(self, ref: str, unit_code: str, *, actor: str, reason: str) -> tuple[ComplaintAssigned, bool]:
        """An operator moves a complaint to another unit."""
        ruleset, reason = self.live.current, _typed(reason) or "-"

        def decide(current: ComplaintAssigned, status: str) -> ComplaintAssigned:
            return build_reassignment(current, ruleset.unit(unit_code), ruleset_version=ruleset.version,
                                      deadlines=ruleset.registry.deadlines_for(unit_code), assigned_by=actor,
                                      reason=reason, calendar=self.calendar)

        assigned, _ = await self.repository().reassign(ref, decide)
        return assigned, await self.publish(assigned)

    async def hand_back(self, ref: str, *, actor: str, unit_code: str | None, reason: str,
                        ) -> tuple[ComplaintAssigned, bool]:
        """"Not our authority": back to triage, from the unit that has it (or an operator)."""
        ruleset, reason = self.live.current, _typed(reason) or "-"
        triage = ruleset.unit(ruleset.registry.fallback)

        def decide(current: ComplaintAssigned, status: str) -> ComplaintAssigned:
            if unit_code is not None and current.unit.code != unit_code:
                # Same answer as for a complaint that does not exist: no hint about others' complaints.
                raise NotFound(ref)
            lifecycle.can_hand_back(status)
            return build_reassignment(current, triage, ruleset_version=ruleset.version,
                                      deadlines=ruleset.registry.deadlines_for(triage.code), assigned_by=actor,
                                      reason=f"Bukan wewenang: {reason}", calendar=self.calendar)

        assigned, returned = await self.repository().reassign(ref, decide, returned_by=actor)
        published = await self.publish(assigned)
        if returned is not None:
            await self.publish(returned)
        return assigned, published


def _typed(text: str | None) -> str | None:
    """What a person typed, as it can be stored and sent on: without NUL and other control characters
    (PostgreSQL cannot store a NUL, and the request would fail with a 500)."""
    try:
        return clean_text(text, max_length=3000) if text else None
    except InvalidText:
        return None
