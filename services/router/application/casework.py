"""The casework's use cases, written once for the Kafka consumers, the JSON API and the unit inbox:
routing a complaint, a unit's steps, the citizen's reply, re-assignment and "not our authority", the
deadline sweep. Each stores its step through the repository (one transaction), then publishes the
events; what Kafka does not take now, the outbox relay publishes later. The clock is passed in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

import structlog

from services.router import lifecycle
from services.router.application.ports import CaseworkRepository, NotFound, OutboxEvent, StoredAssignment
from services.router.lifecycle.working_days import WorkingCalendar
from services.router.routing.assignment import build_assignment, build_reassignment
from services.router.routing.duplicates import WINDOW_DAYS, DuplicateFinder
from services.router.routing.live_ruleset import LiveRuleSet
from services.router.routing.rules import Decision, RuleSet
from services.router.routing.second_opinion import SecondOpinion, decide
from shared.channel_kit import InvalidText, clean_text
from shared.contracts import (
    MAX_MESSAGE,
    CitizenContactChanged,
    CitizenReplied,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintReceived,
    ComplaintStatusChanged,
)
from shared.local_time import WIB

log = structlog.get_logger(__name__)

HANDED_BACK = "Bukan wewenang: "  # how a hand-back's reason begins: the back-office's triage queue looks for it


Publish = Callable[[OutboxEvent], Awaitable[bool]]  # True: published now; False: stored, the outbox sends it later


class Casework:
    def __init__(self, repository: CaseworkRepository, live: LiveRuleSet, calendar: WorkingCalendar,
                 publish: Publish, clock: Callable[[], datetime], second_opinion: SecondOpinion | None = None,
                 duplicates: DuplicateFinder | None = None) -> None:
        self.repository, self.live, self.calendar, self.publish, self.clock = (
            repository, live, calendar, publish, clock)
        self.second_opinion, self.duplicates = second_opinion, duplicates

    def today(self) -> date:
        """The date in Kota Kediri (WIB): deadlines are working days there."""
        return self.clock().astimezone(WIB).date()

    async def assign(self, batch: list[ComplaintReceived]) -> list[StoredAssignment]:
        """Route new complaints by the rule set in force and store their first assignments, once each
        (a redelivered complaint comes back as it was decided). Publishing them is the caller's."""
        ruleset, now = self.live.current, self.clock()
        return await self.repository.assign_batch(batch, lambda event: build_assignment(
            event, self.decide(ruleset, event), 1, self.calendar, now=now))

    def decide(self, ruleset: RuleSet, event: ComplaintReceived) -> Decision:
        return decide(ruleset, self.second_opinion, event.text, event.channel, event.category)

    async def act(self, ref: str, action: lifecycle.UnitAction, *, actor: str, unit_code: str | None,
                  message: str | None = None) -> ComplaintStatusChanged | None:
        """A unit's step on its own complaint (`unit_code`), or an operator's on any (None)."""
        registry, now = self.live.current.registry, self.clock()
        message = _typed(message)
        if action is lifecycle.UnitAction.RESPOND and not message:
            raise lifecycle.TransitionRefused("tanggapan untuk pelapor kosong")

        def close_due(unit: str) -> date:
            return self.calendar.add_working_days(now, registry.deadlines_for(unit).close_after_response)

        change = await self.repository.change_status(ref, action, actor=actor, unit_code=unit_code,
                                                     message=message, close_due=close_due)
        if change is not None:
            await self.publish(change)
        return change

    async def take_reply(self, reply: CitizenReplied) -> ComplaintStatusChanged | None:
        """The citizen wrote back after a response: recorded once, and the unit must answer again."""
        registry = self.live.current.registry

        def answer_due(unit: str) -> date:
            return self.calendar.add_working_days(reply.received_at, registry.deadlines_for(unit).follow_up)

        try:
            change = await self.repository.record_reply(reply, answer_due)
        except NotFound as missing:
            # Dead-lettered with its reason (a ValueError): retrying cannot help.
            raise lifecycle.TransitionRefused(f"no complaint {reply.complaint_id} with code {reply.tracking_code}"
                                              ) from missing
        if change is not None:
            await self.publish(change)
        return change

    async def reassign(self, ref: str, unit_code: str, *, actor: str, reason: str) -> tuple[ComplaintAssigned, bool]:
        """An operator moves a complaint to another unit."""
        ruleset, reason, now = self.live.current, _typed(reason) or "-", self.clock()

        def decide(current: ComplaintAssigned, status: str) -> ComplaintAssigned:
            return build_reassignment(current, ruleset.unit(unit_code), ruleset_version=ruleset.version,
                                      deadlines=ruleset.registry.deadlines_for(unit_code), assigned_by=actor,
                                      reason=reason, calendar=self.calendar, now=now)

        assigned, _ = await self.repository.reassign(ref, decide)
        return assigned, await self.publish(assigned)

    async def hand_back(self, ref: str, *, actor: str, unit_code: str | None, reason: str,
                        ) -> tuple[ComplaintAssigned, bool]:
        """"Not our authority": back to triage, from the unit that has it (or an operator)."""
        ruleset, reason, now = self.live.current, _typed(reason) or "-", self.clock()
        triage = ruleset.unit(ruleset.registry.fallback)

        def decide(current: ComplaintAssigned, status: str) -> ComplaintAssigned:
            if unit_code is not None and current.unit.code != unit_code:
                # Same answer as for a complaint that does not exist: no hint about others' complaints.
                raise NotFound(ref)
            lifecycle.can_hand_back(status)
            return build_reassignment(current, triage, ruleset_version=ruleset.version,
                                      deadlines=ruleset.registry.deadlines_for(triage.code), assigned_by=actor,
                                      reason=f"{HANDED_BACK}{reason}", calendar=self.calendar, now=now)

        assigned, returned = await self.repository.reassign(ref, decide, returned_by=actor)
        published = await self.publish(assigned)
        if returned is not None:
            await self.publish(returned)
        return assigned, published

    async def sweep(self) -> list[ComplaintEscalated | ComplaintStatusChanged]:
        """Escalate what is overdue today and close what was answered and then left silent; each step
        is stored once however often this runs, then published."""
        events = await self.repository.sweep(self.today(), self.live.current.registry.coordinator_email)
        for event in events:
            log.info("deadline_step", event_type=event.event_type, complaint_id=event.complaint_id,
                     stage=getattr(event, "stage", None), status=getattr(event, "status", None))
            await self.publish(event)
        return events

    async def link_duplicates(self, batch: int = 100) -> int:
        """Compare complaints not looked at yet with the open ones received within the finder's window before
        them, and keep the links; each complaint once, whenever this runs. Returns how many were looked at."""
        if self.duplicates is None:
            return 0
        new = await self.repository.unchecked_for_duplicates(batch)
        if not new:
            return 0
        earliest = min(n.received_at for n in new) - timedelta(days=WINDOW_DAYS)
        open_ones = await self.repository.open_since(earliest)
        links = [(complaint_id, hit.of.complaint_id, hit.similarity, hit.reason)
                 for complaint_id, hits in self.duplicates.find_all(new, open_ones).items() for hit in hits]
        await self.repository.record_duplicates([n.complaint_id for n in new], links)
        if links:
            log.info("possible_duplicates_linked", looked_at=len(new), links=len(links))
        return len(new)

    async def merge(self, ref: str, other: str, *, actor: str, unit_code: str | None) -> tuple[str, str]:
        """Two complaints about one thing: the later follows the earlier from now on (its citizen hears the
        earlier's outcome). Returns (merged, surviving) tracking codes."""
        merged, surviving = await self.repository.merge(ref, other, unit_code, actor)
        log.info("complaints_merged", merged=merged, surviving=surviving)
        return merged, surviving

    async def change_contact(self, change: CitizenContactChanged) -> int:
        """A citizen's new number or BSUID: their complaints are answered there from now on."""
        return await self.repository.change_citizen_contact(change)


def _typed(text: str | None) -> str | None:
    """What a person typed, as it can be stored and sent on: without NUL and other control characters
    (PostgreSQL cannot store a NUL, and the request would fail with a 500)."""
    try:
        return clean_text(text, max_length=MAX_MESSAGE) if text else None
    except InvalidText:
        return None
