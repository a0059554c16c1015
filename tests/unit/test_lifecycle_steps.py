"""The steps a unit may take on a complaint, by its status (services/router/lifecycle.py), without a database."""

from __future__ import annotations

import pytest

from services.router.lifecycle import ASSIGNED, TransitionRefused, UnitAction, can_hand_back, next_status
from shared.contracts import ComplaintStatus


@pytest.mark.parametrize(("current", "action", "expected"), [
    (ASSIGNED, UnitAction.ACKNOWLEDGE, ComplaintStatus.ACKNOWLEDGED),
    ("acknowledged", UnitAction.ACKNOWLEDGE, None),
    ("responded", UnitAction.ACKNOWLEDGE, None),
    (ASSIGNED, UnitAction.RESPOND, ComplaintStatus.RESPONDED),
    ("responded", UnitAction.RESPOND, ComplaintStatus.RESPONDED),
    ("acknowledged", UnitAction.DONE, ComplaintStatus.DONE),
])
def test_steps_lead_where_the_lifecycle_says(current, action, expected):
    assert next_status(current, action) == expected


@pytest.mark.parametrize("finished", ["done", "closed"])
def test_finished_complaints_take_no_more_steps(finished):
    for action in UnitAction:
        with pytest.raises(TransitionRefused):
            next_status(finished, action)
    with pytest.raises(TransitionRefused):
        can_hand_back(finished)
