"""DoneRecorder (shared/jobs.py): delivered jobs are recorded many to a statement, and nobody hears "recorded"
before their own outcome is committed."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared import jobs
from shared.jobs import DoneRecorder, Job


class SlowTable:
    """A job table whose writes take a while (and may fail), recording what each statement committed."""

    def __init__(self, failures: list[BaseException | None] | None = None) -> None:
        self.statements: list[list[int]] = []
        self.failures = failures or []  # the outcome of each write in turn (None: it commits); then all commit

    async def done(self, outcomes: list[tuple[int, str | None]]) -> None:
        await asyncio.sleep(0.05)
        if self.failures and (failure := self.failures.pop(0)):
            raise failure
        self.statements.append([job_id for job_id, _ in outcomes])

    def committed(self) -> set[int]:
        return {job_id for statement in self.statements for job_id in statement}


def job(job_id: int) -> Job:
    return Job(job_id, f"unit_email:{job_id}", "unit_email", None, {}, "topic", 1)


async def test_outcomes_arriving_during_a_write_go_together_in_the_next_and_each_returns_once_committed():
    table = SlowTable()
    recorder = DoneRecorder(table)  # type: ignore[arg-type]
    returned_before_commit: list[int] = []

    async def record(job_id: int) -> None:
        await recorder.record(job(job_id), {"to": "x"})
        if job_id not in table.committed():
            returned_before_commit.append(job_id)

    first = asyncio.create_task(record(0))
    await asyncio.sleep(0.01)  # the first write is under way
    await asyncio.gather(first, *(record(n) for n in range(1, 21)))
    assert table.statements == [[0], list(range(1, 21))]
    assert returned_before_commit == []


async def test_a_failed_write_fails_every_job_in_it_and_the_next_write_goes_on():
    table = SlowTable(failures=[None, ValueError("a constraint broke")])
    recorder = DoneRecorder(table)  # type: ignore[arg-type]
    results = await asyncio.gather(*(recorder.record(job(n), None) for n in range(5)), return_exceptions=True)
    assert results[0] is None and all(isinstance(result, ValueError) for result in results[1:])  # 1-4 together
    await recorder.record(job(9), None)
    assert table.statements == [[0], [9]]


async def test_a_database_away_is_waited_out_and_the_outcomes_written_once(monkeypatch):
    monkeypatch.setattr(jobs, "RECORD_RETRY_SECONDS", 0.01)
    table = SlowTable(failures=[ConnectionRefusedError(), ConnectionRefusedError()])
    recorder = DoneRecorder(table)  # type: ignore[arg-type]
    await asyncio.gather(*(recorder.record(job(n), None) for n in range(3)))
    assert table.statements == [[0], [1, 2]]  # 0 at the third try; 1 and 2 waited behind it, then went together


async def test_a_write_rolled_back_by_a_deadlock_is_tried_again(monkeypatch):
    # Seen in the fault suite: the deadlock error escaped, the job's task died with the job unrecorded, and the
    # job ran (mailed) again when its lease ran out.
    monkeypatch.setattr(jobs, "RECORD_RETRY_SECONDS", 0.01)
    table = SlowTable(failures=[asyncpg.exceptions.DeadlockDetectedError("deadlock detected")])
    recorder = DoneRecorder(table)  # type: ignore[arg-type]
    await asyncio.gather(*(recorder.record(job(n), None) for n in range(3)))
    assert table.statements == [[0], [1, 2]]


class GatedTable(SlowTable):
    """Each write waits until the test lets it through."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = asyncio.Event()
        self.gate = asyncio.Event()

    async def done(self, outcomes: list[tuple[int, str | None]]) -> None:
        self.writing.set()
        await self.gate.wait()
        self.gate.clear()
        self.statements.append([job_id for job_id, _ in outcomes])


async def test_a_writer_cancelled_mid_write_leaves_the_others_outcomes_to_the_next_writer():
    table = GatedTable()
    recorder = DoneRecorder(table)  # type: ignore[arg-type]
    first = asyncio.create_task(recorder.record(job(0), None))
    await table.writing.wait()  # 0 is being written
    table.writing.clear()
    second, third = (asyncio.create_task(recorder.record(job(n), None)) for n in (1, 2))
    await asyncio.sleep(0)  # 1 and 2 queue up behind the lock
    table.gate.set()
    await first
    await table.writing.wait()  # 1 writes 1 and 2 ...
    second.cancel()  # ... and is cancelled mid-write
    with pytest.raises(asyncio.CancelledError):
        await second
    table.gate.set()
    await third
    assert table.statements == [[0], [2]]  # 1 went down with its own write (its job is run again); 2 was not lost
