"""The delivery job table (shared/jobs.py) on the real PostgreSQL: what the notifier and lapor_sync rely on when
an event comes again while its job is being recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.database import migrate
from shared.jobs import MIGRATIONS, JobQueue, NewJob, RetryPolicy

pytestmark = pytest.mark.postgres
SCHEMA = "deliveries"


@pytest.fixture
async def queue(own_database_url: str) -> AsyncIterator[JobQueue]:
    pool = await asyncpg.create_pool(own_database_url, min_size=2, max_size=4,
                                     server_settings={"search_path": SCHEMA})
    await migrate(pool, SCHEMA, MIGRATIONS)
    yield JobQueue(pool, "test", RetryPolicy())
    await pool.close()


def new_job(n: int) -> NewJob:
    return NewJob(f"unit_email:{n}", "unit_email", None, json.dumps({"n": n}))


async def enqueue(queue: JobQueue, *numbers: int) -> None:
    async with queue.pool.acquire() as conn, conn.transaction():
        await queue.enqueue(conn, [new_job(n) for n in numbers], "complaints.assigned.v1")


async def jobs_by_key(queue: JobQueue) -> dict[str, tuple[str, int]]:
    rows = await queue.pool.fetch("SELECT job_key, status, attempts FROM jobs")
    return {row["job_key"]: (row["status"], row["attempts"]) for row in rows}


async def test_an_event_enqueued_again_does_not_hold_up_recording_its_job_done(queue):
    # The fault suite's duplicate mails (seed 865228): the router published assignments again after a restart,
    # the notifier's consumer re-enqueued their jobs in one transaction while the runner recorded the same
    # jobs done in one statement, each waited on the other's row locks, and PostgreSQL failed the done-write.
    await enqueue(queue, 1, 2)
    claimed = await queue.claim(2)
    assert sorted(job.job_key for job in claimed) == ["unit_email:1", "unit_email:2"]
    async with queue.pool.acquire() as conn:
        batch = conn.transaction()
        await batch.start()
        await queue.enqueue(conn, [new_job(2), new_job(1), new_job(3)], "complaints.assigned.v1")
        # The batch is still open: recording must not wait for it.
        await asyncio.wait_for(queue.done([(job.job_id, None) for job in claimed]), timeout=5)
        await batch.commit()
    assert await jobs_by_key(queue) == {"unit_email:1": ("done", 1), "unit_email:2": ("done", 1),
                                        "unit_email:3": ("pending", 0)}


async def test_enqueueing_again_revives_a_dead_job_and_leaves_the_others_as_they_are(queue):
    await enqueue(queue, 1, 2, 3)
    first, second, _ = sorted(await queue.claim(3), key=lambda job: job.job_key)
    await queue.done([(first.job_id, None)])
    await queue.dead(second, "permanent: refused")
    await enqueue(queue, 3, 2, 1)  # a replay of the dead letter, with its neighbours
    assert await jobs_by_key(queue) == {"unit_email:1": ("done", 1), "unit_email:2": ("pending", 0),
                                        "unit_email:3": ("pending", 1)}
    assert [job.job_key for job in await queue.claim(5)] == ["unit_email:2"]  # 3 is still leased
