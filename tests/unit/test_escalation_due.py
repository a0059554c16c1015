"""Which escalation stage is due (services/router/lifecycle/escalation.py): pure, on the day given."""

from __future__ import annotations

from datetime import date

from services.router.lifecycle import effects_of
from services.router.lifecycle.escalation import Deadlines, closes_silently, pending_pairs, stages_due
from shared.contracts import EscalationStage
from shared.statuses import ASSIGNED, ComplaintStatus

DEADLINES = Deadlines(forward_due=date(2026, 8, 5), follow_up_due=date(2026, 8, 10), answer_due=date(2026, 8, 12))


def test_a_stage_is_due_the_day_after_its_deadline_only_while_it_binds():
    assert stages_due(ASSIGNED, DEADLINES, date(2026, 8, 5)) == []
    assert stages_due(ASSIGNED, DEADLINES, date(2026, 8, 6)) == [(EscalationStage.FORWARD, date(2026, 8, 5))]
    assert stages_due(ASSIGNED, DEADLINES, date(2026, 8, 20)) == [
        (EscalationStage.FORWARD, date(2026, 8, 5)), (EscalationStage.FOLLOW_UP, date(2026, 8, 10))]
    assert stages_due(ComplaintStatus.ACKNOWLEDGED, DEADLINES, date(2026, 8, 20)) == [
        (EscalationStage.FOLLOW_UP, date(2026, 8, 10))]
    assert stages_due(ComplaintStatus.REPLIED, DEADLINES, date(2026, 8, 20)) == [
        (EscalationStage.REPLY, date(2026, 8, 12))]
    for answered in (ComplaintStatus.RESPONDED, ComplaintStatus.DONE, ComplaintStatus.CLOSED):
        assert stages_due(answered, DEADLINES, date(2026, 8, 20)) == []


def test_a_stage_escalated_once_is_not_due_again_and_a_missing_deadline_never_is():
    assert stages_due(ASSIGNED, DEADLINES, date(2026, 8, 20), frozenset({EscalationStage.FORWARD})) == [
        (EscalationStage.FOLLOW_UP, date(2026, 8, 10))]
    assert stages_due(ComplaintStatus.REPLIED, Deadlines(None, None, None), date(2026, 8, 20)) == []


def test_the_query_gets_the_same_stages_and_statuses():
    stages, statuses = pending_pairs()
    assert sorted(zip(stages, statuses, strict=True)) == [
        ("follow_up", "acknowledged"), ("follow_up", "assigned"), ("forward", "assigned"), ("reply", "replied")]


def test_only_an_answer_left_silent_until_its_day_closes_by_itself():
    assert closes_silently(ComplaintStatus.RESPONDED, date(2026, 8, 10), date(2026, 8, 10))
    assert not closes_silently(ComplaintStatus.RESPONDED, date(2026, 8, 10), date(2026, 8, 9))
    assert not closes_silently(ComplaintStatus.REPLIED, date(2026, 8, 10), date(2026, 8, 20))


def test_what_reaching_a_status_does_besides():
    assert [s for s in ComplaintStatus if effects_of(s).first_response] == [ComplaintStatus.RESPONDED,
                                                                           ComplaintStatus.DONE]
    assert [s for s in ComplaintStatus if effects_of(s).closes] == [ComplaintStatus.DONE, ComplaintStatus.CLOSED]
