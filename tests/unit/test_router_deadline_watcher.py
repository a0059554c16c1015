"""The deadline watcher (services/router/adapters/background.py) waits out a database that is away, and
lets a bug through instead of reporting it as "database down" forever."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from services.router.adapters.background import watch_deadlines


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


@pytest.mark.parametrize("bug", [KeyError("unit"), TypeError("unsupported operand"),
                                 asyncpg.exceptions.UndefinedColumnError("column c.stage does not exist")])
async def test_a_bug_ends_the_watcher_at_once(bug):
    casework = Sweeps(bug, ConnectionRefusedError(111, "refused"))
    with pytest.raises(type(bug)):
        await watch_deadlines(casework, 0)  # type: ignore[arg-type]
    assert casework.calls == 1
