"""The complaint's life in the router's own database: unit steps, escalation once per stage, and
closure after silence. In-process against the real PostgreSQL, with `today` chosen by the test."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.router import lifecycle
from services.router.adapters.postgres import NotFound, RouterRepository
from services.router.app import MIGRATIONS
from services.router.lifecycle import TransitionRefused, UnitAction
from services.router.lifecycle.working_days import WorkingCalendar
from services.router.routing.assignment import build_assignment, build_reassignment
from services.router.routing.rules import load_ruleset
from shared.contracts import (
    CitizenReplied,
    ComplaintEscalated,
    ComplaintStatus,
    ComplaintStatusChanged,
    EscalationStage,
    citizen_reply_id_for,
)
from shared.database import create_pool, migrate
from shared.settings import DatabaseSettings
from tests.support import events

pytestmark = pytest.mark.postgres
RULES = load_ruleset()
CALENDAR = WorkingCalendar()


@pytest.fixture
async def repo(database_url):
    schema = f"router_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=4), schema)
    await migrate(pool, schema, MIGRATIONS)
    yield RouterRepository(pool)
    await pool.close()


async def stored(repo: RouterRepository, text: str, received_days_ago: int = 0):
    event = events.received(text).model_copy(
        update={"received_at": datetime.now(UTC) - timedelta(days=received_days_ago)})

    def decide(e):
        assigned = build_assignment(e, RULES.route(e.text, e.channel), 1, CALENDAR, now=datetime.now(UTC))
        # The follow-up clock runs from receipt here, as if routed then.
        return assigned.model_copy(update={"follow_up_due": CALENDAR.add_working_days(e.received_at, 5)})

    [result] = await repo.assign_batch([event], decide)
    return result.event


def close_after(days: int):
    return lambda unit: CALENDAR.add_working_days(datetime.now(UTC), days)


async def act(repo, assigned, action, unit=None, message=None):
    return await repo.change_status(assigned.tracking_code, action, actor=f"unit:{unit or assigned.unit.code}",
                                    unit_code=unit or assigned.unit.code, message=message, close_due=close_after(10))


async def test_a_unit_acknowledges_responds_and_marks_done_each_change_stored_once_in_sequence(repo):
    assigned = await stored(repo, "SURGA nama di SPPT PBB masih atas nama pemilik lama")
    ack = await act(repo, assigned, UnitAction.ACKNOWLEDGE)
    assert (ack.status, ack.sequence) == (ComplaintStatus.ACKNOWLEDGED, 1)
    assert await act(repo, assigned, UnitAction.ACKNOWLEDGE) is None  # a second click changes nothing
    answer = await act(repo, assigned, UnitAction.RESPOND, message="SPPT sudah dibetulkan, silakan ambil di loket")
    assert (answer.status, answer.sequence, answer.message) == (ComplaintStatus.RESPONDED, 2, answer.message)
    assert answer.close_due == CALENDAR.add_working_days(datetime.now(UTC), 10)
    assert answer.sealed_contact == assigned.sealed_contact is not None
    done = await act(repo, assigned, UnitAction.DONE)
    assert (done.status, done.sequence) == (ComplaintStatus.DONE, 3)
    with pytest.raises(TransitionRefused):
        await act(repo, assigned, UnitAction.RESPOND, message="terlambat")
    rows = await repo.pool.fetch("SELECT sequence, status, published_at FROM status_changes ORDER BY sequence")
    assert [(r["sequence"], r["status"]) for r in rows] == [(1, "acknowledged"), (2, "responded"), (3, "done")]
    assert all(r["published_at"] is None for r in rows)  # the outbox has them until they are published
    assert len(await repo.unpublished(older_than_seconds=0)) == 4  # the assignment and three changes
    complaint = await repo.pool.fetchrow("SELECT status, first_response_at, closed_at FROM complaints")
    assert complaint["status"] == "done" and complaint["first_response_at"] and complaint["closed_at"]


async def test_another_unit_cannot_change_a_complaint_and_learns_nothing_about_it(repo):
    assigned = await stored(repo, "SURGA nama di SPPT PBB masih atas nama pemilik lama")
    assert assigned.unit.code == "bppkad"
    for action in UnitAction:
        with pytest.raises(NotFound):
            await act(repo, assigned, action, unit="hukum", message="bukan urusan hukum")
    with pytest.raises(NotFound):
        await repo.complaint_for_unit(assigned.tracking_code, "hukum")
    with pytest.raises(NotFound):
        await act(repo, assigned.model_copy(update={"tracking_code": "AAAAA-AAAAA"}), UnitAction.ACKNOWLEDGE)
    assert await repo.inbox("hukum") == []
    assert await repo.pool.fetchval("SELECT count(*) FROM status_changes") == 0


async def test_handing_back_records_the_return_and_starts_the_new_unit_at_assigned(repo):
    assigned = await stored(repo, "SURGA nama di SPPT PBB masih atas nama pemilik lama")
    await act(repo, assigned, UnitAction.ACKNOWLEDGE)
    triage = RULES.unit("diskominfo")
    new, returned = await repo.reassign(assigned.tracking_code, lambda current, status: build_reassignment(
        current, triage, ruleset_version="t", deadlines=RULES.registry.deadlines_for("diskominfo"),
        assigned_by="unit:bppkad", reason="Bukan wewenang: urusan kelurahan", now=datetime.now(UTC)),
        returned_by="unit:bppkad")
    assert (returned.status, returned.sequence, returned.unit.code) == (ComplaintStatus.RETURNED, 2, "bppkad")
    assert returned.message == "Bukan wewenang: urusan kelurahan"
    assert new.sequence == 2 and new.unit.code == "diskominfo"
    assert new.forward_due >= date.today()  # the new unit's clock starts now
    found = await repo.complaint_for_unit(assigned.tracking_code, "diskominfo")
    assert found["status"] == "assigned"
    with pytest.raises(NotFound):
        await repo.complaint_for_unit(assigned.tracking_code, "bppkad")


async def test_overdue_complaints_escalate_once_per_stage_and_answered_ones_do_not(repo):
    late = await stored(repo, "SURGA nama di SPPT PBB masih atas nama pemilik lama", received_days_ago=20)
    answered = await stored(repo, "SURGA pajak restoran saya salah hitung", received_days_ago=20)
    fresh = await stored(repo, "SURGA tagihan PBB naik tanpa pemberitahuan")
    await act(repo, answered, UnitAction.RESPOND, message="Sudah kami periksa dan betulkan")
    today = datetime.now(UTC).date()
    first = await repo.sweep(today, "ppid@kedirikota.go.id")
    escalations = [e for e in first if isinstance(e, ComplaintEscalated)]
    assert sorted((e.complaint_id, e.stage) for e in escalations) == sorted(
        [(late.complaint_id, "forward"), (late.complaint_id, "follow_up")])
    assert all(e.coordinator_email == "ppid@kedirikota.go.id" and e.unit.head_email for e in escalations)
    assert fresh.complaint_id not in {e.complaint_id for e in first}
    assert await repo.sweep(today, "ppid@kedirikota.go.id") == []  # once per stage, however often it runs
    # Acknowledging does not undo an escalation, and a later stage is still watched.
    assert await repo.pool.fetchval("SELECT count(*) FROM escalations") == 2


async def test_concurrent_sweeps_escalate_and_close_each_complaint_once(repo):
    for i in range(20):
        await stored(repo, f"SURGA nama di SPPT PBB masih atas nama pemilik lama nomor {i}", received_days_ago=20)
    for i in range(10):
        answered = await stored(repo, f"SURGA pajak restoran nomor {i} salah hitung")
        await act(repo, answered, UnitAction.RESPOND, message="Sudah kami betulkan, silakan cek")
    later = datetime.now(UTC).date() + timedelta(days=30)
    results = await asyncio.gather(*(repo.sweep(later, None) for _ in range(4)))
    produced = [e for result in results for e in result]
    assert len([e for e in produced if isinstance(e, ComplaintEscalated)]) == 20 * 2
    closed = [e for e in produced if isinstance(e, ComplaintStatusChanged)]
    assert len(closed) == 10 and {e.status for e in closed} == {ComplaintStatus.CLOSED}
    assert {e.actor for e in closed} == {"system"}
    assert await repo.pool.fetchval("SELECT count(*) FROM complaints WHERE status = 'closed'") == 10
    assert await repo.pool.fetchval("SELECT count(*) FROM escalations") == 40


async def test_a_response_closes_only_when_its_working_days_have_passed(repo):
    assigned = await stored(repo, "SURGA nama di SPPT PBB masih atas nama pemilik lama")
    answer = await act(repo, assigned, UnitAction.RESPOND, message="Sudah kami betulkan, silakan cek")
    assert [e for e in await repo.sweep(answer.close_due - timedelta(days=1), None)
            if isinstance(e, ComplaintStatusChanged)] == []
    [closed] = [e for e in await repo.sweep(answer.close_due, None) if isinstance(e, ComplaintStatusChanged)]
    assert (closed.status, closed.sequence) == (ComplaintStatus.CLOSED, 2)
    with pytest.raises(TransitionRefused):
        await act(repo, assigned, UnitAction.DONE)
    assert lifecycle.STATUS_WORDS[closed.status] == "ditutup"


def reply(assigned, text: str = "Tagihan saya masih salah, mohon dicek lagi") -> CitizenReplied:
    return CitizenReplied(reply_id=citizen_reply_id_for("web", f"api:{uuid.uuid4()}"),
                          complaint_id=assigned.complaint_id, tracking_code=assigned.tracking_code, channel="web",
                          text=text, received_at=datetime.now(UTC), producer="tests",
                          correlation_id=assigned.complaint_id)


def answer_within(days: int):
    return lambda unit: CALENDAR.add_working_days(datetime.now(UTC), days)


async def test_a_citizens_reply_keeps_the_answered_complaint_open_until_the_unit_answers_again(repo):
    assigned = await stored(repo, "SURGA nama di SPPT PBB masih atas nama pemilik lama")
    with pytest.raises(TransitionRefused):  # nothing to reply to before a response
        await repo.record_reply(reply(assigned), answer_within(5))
    answer = await act(repo, assigned, UnitAction.RESPOND, message="Sudah kami betulkan, silakan cek")
    first = reply(assigned)
    replied = await repo.record_reply(first, answer_within(5))
    assert (replied.status, replied.sequence, replied.actor, replied.message) == (
        ComplaintStatus.REPLIED, 2, "citizen", first.text)
    assert replied.answer_due == CALENDAR.add_working_days(datetime.now(UTC), 5) and replied.close_due is None
    assert replied.unit == assigned.unit and replied.sealed_contact == assigned.sealed_contact
    assert await repo.record_reply(first, answer_within(5)) is None  # redelivered: recorded once

    # The day the response would have closed it passes: it stays open, and the unanswered reply
    # escalates once.
    later = answer.close_due + timedelta(days=1)
    swept = await repo.sweep(later, None)
    assert [e for e in swept if isinstance(e, ComplaintStatusChanged)] == []
    assert [(e.stage, e.due) for e in swept if isinstance(e, ComplaintEscalated)] == [
        (EscalationStage.REPLY, replied.answer_due)]
    assert await repo.sweep(later, None) == []
    [row] = await repo.inbox(assigned.unit.code)
    assert (row["status"], row["answer_due"]) == ("replied", replied.answer_due)
    found = await repo.complaint_for_unit(assigned.tracking_code, assigned.unit.code)
    assert [c.message for c in found["changes"]][-1] == first.text  # the unit reads the reply

    # A second reply is recorded too; the unit's next answer starts a new closure clock.
    assert (await repo.record_reply(reply(assigned, "Dan nama ayah saya juga salah"), answer_within(5))).sequence == 3
    again = await act(repo, assigned, UnitAction.RESPOND, message="Nama ayah juga sudah kami betulkan")
    assert (again.status, again.sequence) == (ComplaintStatus.RESPONDED, 4) and again.close_due
    complaint = await repo.pool.fetchrow("SELECT status, answer_due, close_due FROM complaints")
    assert (complaint["status"], complaint["answer_due"], complaint["close_due"]) == ("responded", None,
                                                                                       again.close_due)
    assert await repo.pool.fetchval("SELECT count(*) FROM citizen_replies") == 2
    await act(repo, assigned, UnitAction.DONE)
    with pytest.raises(TransitionRefused):  # too late once done
        await repo.record_reply(reply(assigned), answer_within(5))


async def test_a_reply_never_lands_on_another_complaint(repo):
    assigned = await stored(repo, "SURGA nama di SPPT PBB masih atas nama pemilik lama")
    await act(repo, assigned, UnitAction.RESPOND, message="Sudah kami betulkan, silakan cek")
    with pytest.raises(NotFound):
        await repo.record_reply(reply(assigned).model_copy(update={"tracking_code": "AAAAA-AAAAA"}), answer_within(5))
    with pytest.raises(NotFound):
        await repo.record_reply(reply(assigned).model_copy(update={"complaint_id": str(uuid.uuid4())}),
                                answer_within(5))
    assert await repo.pool.fetchval("SELECT count(*) FROM citizen_replies") == 0
