"""The deadline watcher (services/router/adapters/background.py) waits out a database that is away, and
reports a bug as a bug (an error with its traceback, counted) instead of as "database down" forever,
and still sweeps again next round."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from services.router.adapters.background import watch_deadlines
from shared.statuses import ComplaintStatus


class Sweeps:
    """A casework whose sweeps fail with the errors given, in turn, then stop the loop."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    async def sweep(self) -> list[Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        raise asyncio.CancelledError  # the service shutting down


async def test_the_watcher_sweeps_again_while_the_database_is_away():
    casework = Sweeps(ConnectionRefusedError(111, "refused"), asyncpg.exceptions.CannotConnectNowError("starting"),
                      asyncpg.InterfaceError("connection is closed"))
    with pytest.raises(asyncio.CancelledError):
        await watch_deadlines(casework, 0)  # type: ignore[arg-type]
    assert casework.calls == 4


def failures(task: str) -> float:
    return REGISTRY.get_sample_value("aduan_background_failures_total", {"task": task}) or 0.0


@pytest.mark.parametrize("bug", [KeyError("unit"), TypeError("unsupported operand"),
                                 asyncpg.exceptions.UndefinedColumnError("column c.stage does not exist")])
async def test_a_bug_is_logged_as_one_counted_and_the_watcher_sweeps_again(bug):
    before = failures("deadline_watcher")
    casework = Sweeps(bug, ConnectionRefusedError(111, "refused"))
    with capture_logs() as logs, pytest.raises(asyncio.CancelledError):
        await watch_deadlines(casework, 0)  # type: ignore[arg-type]
    assert casework.calls == 3
    assert failures("deadline_watcher") == before + 1
    assert [entry["event"] for entry in logs] == ["deadline_watcher_bug", "deadline_check_failed"]
    assert logs[0]["log_level"] == "error" and logs[1]["log_level"] == "warning"


async def test_each_escalation_is_counted_by_unit_and_stage():
    from tests.support import events as built

    assigned = built.assigned()
    escalation = built.escalated(assigned)
    labels = {"unit": assigned.unit.code, "stage": str(escalation.stage)}
    before = REGISTRY.get_sample_value("aduan_escalations_total", labels) or 0.0

    class OneSweep(Sweeps):
        async def sweep(self) -> list[Any]:
            self.calls += 1
            if self.calls == 1:
                return [escalation, built.status_changed(assigned, ComplaintStatus.CLOSED)]
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await watch_deadlines(OneSweep(), 0)  # type: ignore[arg-type]
    assert REGISTRY.get_sample_value("aduan_escalations_total", labels) == before + 1
