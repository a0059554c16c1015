"""The casework's use cases (services/router/application/casework.py) over the in-memory repository, on a
clock the test sets: routing a complaint, a unit's steps, the citizen's reply, re-assignment and "not our
authority", and the deadline sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.router.application.casework import Casework
from services.router.application.ports import NotFound, OutboxEvent
from services.router.lifecycle import TransitionRefused, UnitAction
from services.router.lifecycle.working_days import WorkingCalendar
from services.router.routing.assignment import ReassignmentRefused
from services.router.routing.live_ruleset import LiveRuleSet
from services.router.routing.rules import DEFAULT_RULES_FILE, DEFAULT_UNITS_FILE
from shared.contracts import (
    CitizenReplied,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintStatus,
    ComplaintStatusChanged,
    EscalationStage,
    citizen_reply_id_for,
    contact_digest,
)
from shared.statuses import ASSIGNED
from tests.support import events
from tests.support.router_memory import MemoryRepository

CALENDAR = WorkingCalendar()
LIVE = LiveRuleSet(DEFAULT_RULES_FILE, DEFAULT_UNITS_FILE)
REGISTRY = LIVE.current.registry
PBB = "SURGA nama di SPPT PBB masih atas nama pemilik lama"  # the shipped rules send it to bppkad
MONDAY = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)  # 09:00 WIB, a working day


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Desk:
    """A Casework on the in-memory repository, with what it published."""

    def __init__(self, now: datetime = MONDAY, kafka_up: bool = True) -> None:
        self.repository, self.clock, self.kafka_up = MemoryRepository(), Clock(now), kafka_up
        self.published: list[OutboxEvent] = []
        self.casework = Casework(self.repository, LIVE, CALENDAR, self.publish, self.clock)

    async def publish(self, event: OutboxEvent) -> bool:
        if not self.kafka_up:
            return False
        self.published.append(event)
        await self.repository.mark_published(event)
        return True

    async def routed(self, text: str = PBB, **kwargs: object) -> ComplaintAssigned:
        received = events.received(text, **kwargs).model_copy(update={"received_at": self.clock.now})  # type: ignore[arg-type]
        [stored] = await self.casework.assign([received])
        return stored.event


def reply(assigned: ComplaintAssigned, *, received_at: datetime = MONDAY, sender: str | None = None,
          ) -> CitizenReplied:
    return CitizenReplied(reply_id=citizen_reply_id_for("web", f"api:{uuid.uuid4()}"),
                          complaint_id=assigned.complaint_id, tracking_code=assigned.tracking_code,
                          channel="sms" if sender else "web", text="Tagihan saya masih salah", producer="tests",
                          received_at=received_at, correlation_id=assigned.complaint_id,
                          sender_digest=contact_digest(sender) if sender else None)


# Routing a complaint

async def test_a_complaint_is_routed_once_with_deadlines_from_the_clock_it_is_given():
    desk = Desk(now=datetime(2026, 8, 14, 2, 0, tzinfo=UTC))  # Friday; Monday 17 August is a public holiday
    received = events.received(PBB)
    [first] = await desk.casework.assign([received])
    deadlines = REGISTRY.deadlines_for("bppkad")
    assert first.created and not first.published
    assert (first.event.unit.code, first.event.sequence, first.event.is_fallback) == ("bppkad", 1, False)
    assert first.event.follow_up_due == CALENDAR.add_working_days(desk.clock.now, deadlines.follow_up)
    assert first.event.follow_up_due > date(2026, 8, 17)  # the weekend and the holiday do not count
    assert first.event.forward_due == CALENDAR.add_working_days(received.received_at, deadlines.forward)

    desk.clock.now += timedelta(days=30)  # a redelivery, much later: the decision stored comes back as it was
    [again] = await desk.casework.assign([received, received])
    assert not again.created and again.event == first.event
    assert len(desk.repository.complaints) == 1


async def test_what_no_rule_claims_goes_to_the_fallback_unit():
    assigned = await Desk().routed("Halo, saya mau bertanya saja")
    assert assigned.is_fallback and assigned.unit.code == REGISTRY.fallback


# A unit's steps

async def test_a_units_steps_move_the_complaint_on_and_are_published_once():
    desk = Desk()
    assigned = await desk.routed()
    ack = await desk.casework.act(assigned.tracking_code, UnitAction.ACKNOWLEDGE, actor="unit:bppkad",
                                  unit_code="bppkad")
    assert (ack.status, ack.sequence, ack.actor) == (ComplaintStatus.ACKNOWLEDGED, 1, "unit:bppkad")
    assert await desk.casework.act(assigned.tracking_code, UnitAction.ACKNOWLEDGE, actor="unit:bppkad",
                                   unit_code="bppkad") is None  # a repeated click
    answer = await desk.casework.act(assigned.tracking_code, UnitAction.RESPOND, actor="unit:bppkad",
                                     unit_code="bppkad", message="Sudah kami betulkan")
    close_after = REGISTRY.deadlines_for("bppkad").close_after_response
    assert (answer.status, answer.sequence) == (ComplaintStatus.RESPONDED, 2)
    assert answer.close_due == CALENDAR.add_working_days(MONDAY, close_after)
    stored = desk.repository.find(assigned.tracking_code)
    assert (stored.status, stored.close_due, stored.first_response, stored.closed) == (
        ComplaintStatus.RESPONDED, answer.close_due, True, False)
    done = await desk.casework.act(assigned.complaint_id, UnitAction.DONE, actor="operator:ppid", unit_code=None)
    assert done.status is ComplaintStatus.DONE and done.close_due is None
    assert (stored.status, stored.close_due, stored.closed) == (ComplaintStatus.DONE, None, True)
    with pytest.raises(TransitionRefused):
        await desk.casework.act(assigned.tracking_code, UnitAction.RESPOND, actor="unit:bppkad", unit_code="bppkad",
                                message="Tambahan jawaban")
    assert [e.sequence for e in desk.published if isinstance(e, ComplaintStatusChanged)] == [1, 2, 3]


async def test_a_response_needs_words_for_the_citizen_and_a_unit_sees_only_its_own_complaints():
    desk = Desk()
    assigned = await desk.routed()
    with pytest.raises(TransitionRefused):
        await desk.casework.act(assigned.tracking_code, UnitAction.RESPOND, actor="unit:bppkad", unit_code="bppkad",
                                message="\x00\x01")  # nothing left once control characters are gone
    with pytest.raises(NotFound):
        await desk.casework.act(assigned.tracking_code, UnitAction.ACKNOWLEDGE, actor="unit:hukum",
                                unit_code="hukum")
    assert desk.repository.find(assigned.tracking_code).status == ASSIGNED and desk.published == []


async def test_a_step_kafka_does_not_take_stays_in_the_outbox():
    desk = Desk(kafka_up=False)
    assigned = await desk.routed()
    ack = await desk.casework.act(assigned.tracking_code, UnitAction.ACKNOWLEDGE, actor="unit:bppkad",
                                  unit_code="bppkad")
    assert ack in await desk.repository.unpublished(older_than_seconds=0)


# The citizen's reply

async def test_a_citizens_reply_is_taken_only_after_a_response_and_once():
    desk = Desk()
    assigned = await desk.routed()
    with pytest.raises(TransitionRefused):  # nothing to reply to yet; a ValueError: dead-lettered
        await desk.casework.take_reply(reply(assigned))
    await desk.casework.act(assigned.tracking_code, UnitAction.RESPOND, actor="unit:bppkad", unit_code="bppkad",
                            message="Sudah kami betulkan")
    friday = datetime(2026, 8, 7, 2, 0, tzinfo=UTC)
    first = reply(assigned, received_at=friday)
    replied = await desk.casework.take_reply(first)
    assert (replied.status, replied.actor, replied.sequence) == (ComplaintStatus.REPLIED, "citizen", 2)
    assert replied.answer_due == CALENDAR.add_working_days(friday, REGISTRY.deadlines_for("bppkad").follow_up)
    stored = desk.repository.find(assigned.tracking_code)
    assert (stored.status, stored.answer_due, stored.close_due) == (ComplaintStatus.REPLIED, replied.answer_due, None)
    assert await desk.casework.take_reply(first) is None  # redelivered
    assert [e for e in desk.published if isinstance(e, ComplaintStatusChanged)][-1] == replied
    assert len([e for e in desk.published if isinstance(e, ComplaintStatusChanged)]) == 2


async def test_a_reply_by_phone_only_from_the_reporters_number_and_never_to_another_complaint():
    desk = Desk()
    assigned = await desk.routed()  # reported from +6281234567890
    await desk.casework.act(assigned.tracking_code, UnitAction.RESPOND, actor="unit:bppkad", unit_code="bppkad",
                            message="Sudah kami betulkan")
    with pytest.raises(TransitionRefused, match="reporter's own number"):
        await desk.casework.take_reply(reply(assigned, sender="+6289999999999"))
    with pytest.raises(TransitionRefused, match="no complaint"):
        await desk.casework.take_reply(reply(assigned).model_copy(update={"tracking_code": "AAAAA-AAAAA"}))
    taken = await desk.casework.take_reply(reply(assigned, sender="+6281234567890"))
    assert taken.status is ComplaintStatus.REPLIED


# Re-assignment and "not our authority"

async def test_an_operator_moves_a_complaint_and_the_new_unit_starts_at_assigned_with_its_own_deadlines():
    desk = Desk()
    assigned = await desk.routed()
    await desk.casework.act(assigned.tracking_code, UnitAction.ACKNOWLEDGE, actor="unit:bppkad", unit_code="bppkad")
    desk.clock.now = datetime(2026, 8, 10, 2, 0, tzinfo=UTC)
    moved, published = await desk.casework.reassign(assigned.tracking_code, "hukum", actor="operator:ppid",
                                                    reason="Sengketa waris")
    assert published and (moved.sequence, moved.unit.code, moved.rule_id) == (2, "hukum", "manual")
    assert moved.occurred_at == desk.clock.now
    assert moved.forward_due == CALENDAR.add_working_days(desk.clock.now, REGISTRY.deadlines_for("hukum").forward)
    assert desk.repository.find(assigned.tracking_code).status == ASSIGNED
    with pytest.raises(ReassignmentRefused):
        await desk.casework.reassign(assigned.tracking_code, "hukum", actor="operator:ppid", reason="Lagi-lagi")


async def test_not_our_authority_records_the_return_and_sends_the_complaint_to_triage():
    desk = Desk()
    assigned = await desk.routed()
    await desk.casework.act(assigned.tracking_code, UnitAction.ACKNOWLEDGE, actor="unit:bppkad", unit_code="bppkad")
    with pytest.raises(NotFound):  # not the unit's complaint: as if it did not exist
        await desk.casework.hand_back(assigned.tracking_code, actor="unit:hukum", unit_code="hukum",
                                      reason="Bukan urusan kami")
    new, _ = await desk.casework.hand_back(assigned.tracking_code, actor="unit:bppkad", unit_code="bppkad",
                                           reason="Urusan kelurahan")
    returned = desk.published[-1]
    assert isinstance(returned, ComplaintStatusChanged)
    assert (returned.status, returned.sequence, returned.unit.code) == (ComplaintStatus.RETURNED, 2, "bppkad")
    assert returned.message == "Bukan wewenang: Urusan kelurahan"
    assert (new.unit.code, new.sequence, new.assigned_by) == (REGISTRY.fallback, 2, "unit:bppkad")
    assert desk.repository.find(assigned.tracking_code).status == ASSIGNED


async def test_a_finished_complaint_cannot_be_handed_back():
    desk = Desk()
    assigned = await desk.routed()
    await desk.casework.act(assigned.tracking_code, UnitAction.DONE, actor="unit:bppkad", unit_code="bppkad")
    with pytest.raises(TransitionRefused):
        await desk.casework.hand_back(assigned.tracking_code, actor="unit:bppkad", unit_code="bppkad",
                                      reason="Urusan kelurahan")
    assert len(desk.repository.find(assigned.tracking_code).assignments) == 1


# The deadline sweep

async def test_each_overdue_stage_is_escalated_once_on_the_day_after_its_deadline():
    desk = Desk()
    assigned = await desk.routed()
    desk.clock.now = datetime.combine(assigned.forward_due, datetime.min.time(), UTC)  # on the day: not yet
    assert await desk.casework.sweep() == []
    desk.clock.now += timedelta(days=1)
    [forward] = await desk.casework.sweep()
    assert isinstance(forward, ComplaintEscalated)
    assert (forward.stage, forward.due, forward.unit.code) == (EscalationStage.FORWARD, assigned.forward_due, "bppkad")
    assert forward.coordinator_email == REGISTRY.coordinator_email
    assert await desk.casework.sweep() == []  # once per stage and assignment
    await desk.casework.act(assigned.tracking_code, UnitAction.ACKNOWLEDGE, actor="unit:bppkad", unit_code="bppkad")
    desk.clock.now = datetime.combine(assigned.follow_up_due + timedelta(days=1), datetime.min.time(), UTC)
    stages = [e.stage for e in await desk.casework.sweep()]
    assert stages == [EscalationStage.FOLLOW_UP]  # acknowledged: forward no longer binds, follow-up does
    assert forward in desk.published


async def test_an_unanswered_reply_escalates_and_a_silent_answer_closes_by_itself():
    desk = Desk()
    replied, silent = await desk.routed(), await desk.routed(PBB)
    for assigned in (replied, silent):
        await desk.casework.act(assigned.tracking_code, UnitAction.RESPOND, actor="unit:bppkad",
                                unit_code="bppkad", message="Sudah kami betulkan")
    answer = await desk.casework.take_reply(reply(replied))
    close_due = desk.repository.find(silent.tracking_code).close_due
    desk.clock.now = datetime.combine(max(close_due, answer.answer_due) + timedelta(days=1), datetime.min.time(),
                                      UTC)
    swept = await desk.casework.sweep()
    escalations = [(e.complaint_id, e.stage) for e in swept if isinstance(e, ComplaintEscalated)]
    closures = [(e.complaint_id, e.status, e.actor) for e in swept if isinstance(e, ComplaintStatusChanged)]
    assert escalations == [(replied.complaint_id, EscalationStage.REPLY)]
    assert closures == [(silent.complaint_id, ComplaintStatus.CLOSED, "system")]
    assert desk.repository.find(silent.tracking_code).closed
    assert await desk.casework.sweep() == []
