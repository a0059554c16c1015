"""Deliveries that survive outages: a scheduled-retry table per service, shared by notifier and lapor_sync.

A consumer turns an event into jobs (`enqueue`, in its own transaction) and commits the
offset at once: a mail server or LAPOR! being down never blocks a Kafka partition. A runner
in the same process takes due jobs (`FOR UPDATE SKIP LOCKED`, so replicas share them), runs
them, and either records the result, schedules another attempt with exponential back-off and
full jitter (or after the counterpart's Retry-After), or, after `max_attempts` or a permanent
failure, marks the job dead and publishes it to the service's dead-letter topic with the
error and the attempt count. Replaying a dead letter (`python -m shared.replay`) re-delivers
the event, and enqueueing it again revives the dead job.

The job key makes everything idempotent: one job per (kind, thing, recipient), and a job
that is done is never run again, whatever is redelivered.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel

from shared.consumer import batch_options, read_batch

if TYPE_CHECKING:
    from shared.database import Connection
from shared.dead_letter import ERROR_LIMIT, DeadLetters
from shared.topics import dead_letter_topic

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations" / "jobs"

JOB_OUTCOMES = Counter("aduan_jobs_total", "Job attempts, by kind and outcome", ["service", "kind", "outcome"])
JOBS_WAITING = Gauge("aduan_jobs_waiting", "Jobs not done yet (pending or retrying)", ["service"])
# From the event's job being enqueued to the counterpart taking it (mail server, gateway, LAPOR!), retries
# included: the delivery latency a unit or a citizen feels, beyond the seconds routing takes.
DELIVERY_SECONDS = Histogram("aduan_delivery_seconds", "Enqueued to delivered, retries included",
                             ["service", "kind"], buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14400))
DEAD_LETTERS = Counter("aduan_dead_letters_total", "Jobs given up and dead-lettered", ["service", "kind"])
GAUGE_SECONDS = 5.0  # the waiting-jobs gauge is counted at most this often, not at every idle turn
RECORD_RETRY_SECONDS = 0.5  # between attempts to write a job's outcome while the database is away
# What a query raises while PostgreSQL is away or restarting (not what a bad query raises).
# InternalClientError ("cannot switch to state ...; another operation is in progress") is what asyncpg
# raises when the server ends a session in the middle of a query: the fault suite (tests/chaos) saw it
# escape the runner's loop and stop the service's deliveries for good.
DATABASE_AWAY = (OSError, asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
                 asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)
# A write PostgreSQL rolled back to break a deadlock or a serialization conflict, or whose completion the
# connection lost (SQLSTATE 40P01, 40001, 40003): the same write succeeds when tried again.
ROLLED_BACK = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError,
               asyncpg.exceptions.StatementCompletionUnknownError)


class RetryLater(Exception):
    """The counterpart asked us to wait (HTTP 429/503 with Retry-After), or is known to be down."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


class PermanentFailure(Exception):
    """Retrying can never succeed (the counterpart refused the content itself)."""


class NotSent(Exception):
    """Deliberately not delivered (over a rate limit, a number we do not send to, a closed window): the job
    is done, its result says why, and nothing is dead-lettered."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 15
    base_seconds: float = 5.0
    max_seconds: float = 600.0  # 15 attempts with this cap ride out 40 to 80 minutes of outage (the jitter decides)
    lease_seconds: float = 120.0  # a job claimed by a process that died is taken again after this;
    # longer than any single attempt may take (the SMTP and HTTP timeouts)

    def delay(self, attempts: int) -> float:
        """Between half and all of min(cap, base * 2^(attempts-1)): spread out, so retries do not stampede."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return random.uniform(ceiling / 2, ceiling)


    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        return cls(settings.retry_max_attempts, settings.retry_base_seconds, settings.retry_max_seconds,
                   settings.lease_seconds)


@dataclass(frozen=True)
class Job:
    job_id: int
    job_key: str
    kind: str
    complaint_id: str | None
    payload: dict[str, Any]
    source_topic: str
    attempts: int
    waited: float = 0.0  # seconds since it was enqueued, when it was claimed
    # No attempt ran before this one: none failed (a revived dead job keeps its last error) and no lease was
    # taken and lost. A counterpart without idempotency keys needs no lookup for a lost earlier try then.
    first_attempt: bool = False


@dataclass(frozen=True)
class NewJob:
    """A job to add for an event: one per (kind, thing, recipient), so adding it twice is harmless."""

    job_key: str
    kind: str
    complaint_id: str | None
    payload: str  # the event, as JSON


Handler = Callable[[Job], Awaitable[dict[str, Any] | None]]
DeadLetter = Callable[[Job, str], Awaitable[None]]


class JobQueue:
    def __init__(self, pool: asyncpg.Pool, service: str, policy: RetryPolicy) -> None:
        self.pool, self.service, self.policy = pool, service, policy
        self.wake = asyncio.Event()

    async def enqueue(self, conn: Connection, jobs: list[NewJob], source_topic: str) -> None:
        """Add jobs unless they exist; a dead one (given up before) is revived for a replay.

        Not `ON CONFLICT DO UPDATE ... WHERE status = 'dead'`: that locks every existing row it meets, dead or
        not, until the batch commits. A redelivered event's job being recorded done meanwhile then waited on
        the batch while the batch waited on it: PostgreSQL broke the deadlock by failing the done-write, and
        the mail went out twice (tests/chaos, seed 865228). DO NOTHING locks no existing row, and the UPDATE
        locks only the dead ones, which no runner holds."""
        await conn.executemany(
            """INSERT INTO jobs (job_key, kind, complaint_id, payload, source_topic, status)
               VALUES ($1, $2, $3, $4, $5, 'pending')
               ON CONFLICT (job_key) DO NOTHING""",
            [(job.job_key, job.kind, job.complaint_id, job.payload, source_topic) for job in jobs])
        await conn.execute(
            """UPDATE jobs SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
               WHERE job_key = ANY($1::text[]) AND status = 'dead'""",
            sorted({job.job_key for job in jobs}))
        self.wake.set()

    async def claim(self, limit: int, running: Collection[int] = ()) -> list[Job]:
        """Due jobs, leased to the caller; never one of `running` (the caller's own, still in its hands
        although their lease may have run out while the database was away)."""
        rows = await self.pool.fetch(
            """UPDATE jobs SET attempts = attempts + 1, locked_until = now() + make_interval(secs => $2),
                              updated_at = now()
               WHERE job_id IN (SELECT job_id FROM jobs
                                WHERE status = 'pending' AND next_attempt_at <= now()
                                  AND (locked_until IS NULL OR locked_until < now())
                                  AND job_id <> ALL($3::bigint[])
                                ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING job_id, job_key, kind, complaint_id, payload, source_topic, attempts,
                         extract(epoch FROM now() - created_at)::float8 AS waited,
                         attempts = 1 AND last_error IS NULL AS first_attempt""",
            limit, self.policy.lease_seconds, list(running))
        return [Job(r["job_id"], r["job_key"], r["kind"], str(r["complaint_id"]) if r["complaint_id"] else None,
                    json.loads(r["payload"]), r["source_topic"], r["attempts"], r["waited"], r["first_attempt"])
                for r in rows]

    async def done(self, outcomes: list[tuple[int, str | None]]) -> None:
        """Jobs delivered, with their results (JSON), in one statement."""
        await self.pool.execute(
            """UPDATE jobs SET status = 'done', result = outcome.result::jsonb, last_error = NULL,
                              locked_until = NULL, done_at = now(), updated_at = now()
               FROM unnest($1::bigint[], $2::text[]) AS outcome(job_id, result)
               WHERE jobs.job_id = outcome.job_id""",
            [job_id for job_id, _ in outcomes], [result for _, result in outcomes])

    async def retry(self, job: Job, error: str, at_least_seconds: float = 0) -> None:
        delay = max(self.policy.delay(job.attempts), at_least_seconds)
        await self.pool.execute(
            """UPDATE jobs SET last_error = $2, locked_until = NULL, updated_at = now(),
                              next_attempt_at = now() + make_interval(secs => $3) WHERE job_id = $1""",
            job.job_id, error[:ERROR_LIMIT], delay)

    async def dead(self, job: Job, error: str) -> None:
        await self.pool.execute(
            """UPDATE jobs SET status = 'dead', last_error = $2, locked_until = NULL, updated_at = now()
               WHERE job_id = $1""", job.job_id, error[:ERROR_LIMIT])

    async def waiting(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'pending'"))


class DoneRecorder:
    """Records delivered jobs as done, many in one statement: outcomes that arrive while a write is under way
    go together in the next one (a group commit), so a busy runner writes once per round trip, not once per
    job, and a quiet one waits for nothing. `record` returns once the job's outcome is committed."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.lock = asyncio.Lock()
        self.waiting: list[tuple[int, str | None, asyncio.Future[None]]] = []

    async def record(self, job: Job, result: dict[str, Any] | None) -> None:
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((job.job_id, json.dumps(result) if result is not None else None, committed))
        async with self.lock:
            if committed.done():  # written by the write before this one
                return committed.result()
            batch, self.waiting = self.waiting, []
            try:
                await write_until_recorded(lambda: self.queue.done([(job_id, res) for job_id, res, _ in batch]))
            except asyncio.CancelledError:  # the others' outcomes wait for the next holder of the lock
                self.waiting[:0] = [item for item in batch if item[2] is not committed]
                raise
            except Exception as error:
                for _, _, other in batch:
                    if other is not committed:
                        other.set_exception(error)
                raise
            for _, _, each in batch:
                if not each.done():
                    each.set_result(None)


async def write_until_recorded(write: Callable[[], Awaitable[None]]) -> None:
    """Write a job's outcome, waiting out a database that is away (PostgreSQL restarting).

    Found by the fault suite (tests/chaos): the outcome write failed during a PostgreSQL restart,
    the job stayed leased, and when the lease ran out it ran again: the unit got the same mail
    twice. The job stays in the runner's `running` meanwhile, so it does not claim it again either.
    A write rolled back by a deadlock is tried again too: it escaped before and the job ran twice.
    """
    while True:
        try:
            await write()
            return
        except (*DATABASE_AWAY, *ROLLED_BACK) as error:
            log.warning("job_outcome_not_recorded_yet", error=repr(error))
            await asyncio.sleep(RECORD_RETRY_SECONDS)


class JobRunner:
    """Runs due jobs of one queue, `concurrency` at a time, until cancelled."""

    def __init__(self, queue: JobQueue, handlers: dict[str, Handler], dead_letter: DeadLetter,
                 concurrency: int = 8, idle_seconds: float = 1.0) -> None:
        self.queue, self.handlers, self.dead_letter = queue, handlers, dead_letter
        self.concurrency, self.idle_seconds = concurrency, idle_seconds
        self.stopping = False
        self.task: asyncio.Task[None] | None = None
        self.running: set[int] = set()  # ids of the jobs this runner holds, from claim until recorded
        self.recorder = DoneRecorder(queue)
        self.gauge_updated = 0.0

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self, timeout: float) -> None:
        """Take no new jobs; let the ones running finish (and be recorded) for up to `timeout` seconds.

        A job still running then is abandoned unrecorded: its lease expires and it runs again.
        """
        self.stopping = True
        self.queue.wake.set()
        if self.task:
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout)
            except TimeoutError:
                self.task.cancel()

    async def run(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        while not self.stopping:
            free = self.concurrency - len(in_flight)
            try:
                jobs = await self.queue.claim(free, self.running) if free else []
            except (*DATABASE_AWAY, asyncpg.PostgresError) as error:  # database away: try again shortly
                log.warning("job_runner_database_error", error=repr(error))
                jobs = []
                await asyncio.sleep(self.idle_seconds)
            for job in jobs:
                task = asyncio.create_task(self._run(job))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if jobs and len(jobs) == free:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)  # every slot busy
            elif not jobs:
                await self._idle(in_flight)
        if in_flight:  # stopping: let the running ones finish and be recorded
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _idle(self, in_flight: set[asyncio.Task[None]]) -> None:
        """Until new work is enqueued, a slot frees up, or `idle_seconds` pass (retries come due)."""
        self.queue.wake.clear()
        waiters = {asyncio.create_task(self.queue.wake.wait()), *in_flight}
        done, _ = await asyncio.wait(waiters, timeout=self.idle_seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters - in_flight:
            waiter.cancel()
        if time.monotonic() - self.gauge_updated < GAUGE_SECONDS:
            return
        try:
            JOBS_WAITING.labels(self.queue.service).set(await self.queue.waiting())
            self.gauge_updated = time.monotonic()
        except (*DATABASE_AWAY, asyncpg.PostgresError):
            pass

    async def _run(self, job: Job) -> None:
        service, policy = self.queue.service, self.queue.policy
        started = time.monotonic()
        self.running.add(job.job_id)
        with structlog.contextvars.bound_contextvars(complaint_id=job.complaint_id, job_kind=job.kind,
                                                     attempt=job.attempts):
            try:
                result = await self.handlers[job.kind](job)
            except PermanentFailure as error:
                await self._give_up(job, f"permanent: {error}")
            except NotSent as error:
                reason = str(error)
                await self.recorder.record(job, {"not_sent": reason})
                JOB_OUTCOMES.labels(service, job.kind, "not_sent").inc()
                log.warning("job_not_sent", reason=reason)
            except RetryLater as error:
                JOB_OUTCOMES.labels(service, job.kind, "deferred").inc()
                if job.attempts >= policy.max_attempts:
                    await self._give_up(job, str(error))
                else:
                    reason, seconds = str(error), error.seconds
                    await write_until_recorded(lambda: self.queue.retry(job, reason, seconds))
            except Exception as error:  # a transient failure: timeouts, connection refused, 5xx
                JOB_OUTCOMES.labels(service, job.kind, "failed").inc()
                log.warning("job_failed", error=repr(error))
                if job.attempts >= policy.max_attempts:
                    await self._give_up(job, repr(error))
                else:
                    reason = repr(error)
                    await write_until_recorded(lambda: self.queue.retry(job, reason))
            else:
                await self.recorder.record(job, result)
                JOB_OUTCOMES.labels(service, job.kind, "done").inc()
                DELIVERY_SECONDS.labels(service, job.kind).observe(job.waited + (time.monotonic() - started))
                # Not at INFO: the job table is the delivery record (the back-office shows it); INFO lines per
                # delivery (this and httpx's) were about a tenth of the notifier's CPU (docs/performance.md).
                log.debug("job_done", attempts=job.attempts)
            finally:
                self.running.discard(job.job_id)

    async def _give_up(self, job: Job, error: str) -> None:
        # Dead-letter first: if that fails, the job stays pending and is tried again.
        await self.dead_letter(job, error)
        await write_until_recorded(lambda: self.queue.dead(job, error))
        DEAD_LETTERS.labels(self.queue.service, job.kind).inc()
        log.error("job_dead_lettered", error=error, attempts=job.attempts)


def publish_dead_letter(broker: Any, service: str) -> DeadLetter:
    """Dead letters of jobs go where the service's poison messages go: `<topic>.dlq.<service>`."""

    async def publish(job: Job, error: str) -> None:
        await broker.publish(
            json.dumps(job.payload).encode(), topic=dead_letter_topic(job.source_topic, service),
            key=(job.complaint_id or job.job_key).encode(),
            headers={"x-error": error[:ERROR_LIMIT], "x-attempts": str(job.attempts), "x-job-kind": job.kind,
                     "x-job-key": job.job_key, "x-consumer": service, "x-original-topic": job.source_topic})

    return publish


def raise_for_http(response: Any, what: str) -> None:
    """Map a counterpart's HTTP answer to a job outcome: 429 and 503 wait, 5xx retries, other 4xx give up."""
    status = response.status_code
    if status < 400:
        return
    detail = f"{what} answered {status}: {response.text[:300]}"
    if status in (429, 503):
        retry_after = response.headers.get("retry-after", "")
        raise RetryLater(float(retry_after) if retry_after.isdigit() else 30.0, detail)
    if status >= 500 or status == 408:
        raise ConnectionError(detail)
    raise PermanentFailure(detail)


class Deliveries:
    """The jobs side of a delivering service: its queue and runner, started once the pool exists."""

    def __init__(self, service: str, broker: KafkaBroker, settings: Any, handlers: dict[str, Handler]) -> None:
        self.service, self.broker, self.settings, self.handlers = service, broker, settings, handlers
        self.queue: JobQueue | None = None
        self.runner: JobRunner | None = None

    def consume(self, topic: str, model: type[BaseModel], title: str,
                jobs_for: Callable[[Any], list[NewJob]]) -> None:
        """Turn `topic`'s events into jobs, a batch at a time: the jobs of up to `batch_size` events are
        added in one transaction, then their offsets committed together. An event that cannot be
        read is dead-lettered alone."""
        dead_letters = DeadLetters(self.service, self.broker)

        # The options come as a dict, which FastStream's overloads cannot match.
        @self.broker.subscriber(  # type: ignore[untyped-decorator]
            topic, **batch_options(self.settings, self.settings.group_id, title, model))
        async def on_batch(records: list[Any]) -> None:
            events = await read_batch(records, model, dead_letters)
            jobs = [job for event in events for job in jobs_for(event)]
            if jobs:
                if self.queue is None:  # consuming starts after start(): this is a bug, and the batch is retried
                    raise RuntimeError("Deliveries.consume received a batch before start()")
                async with self.queue.pool.acquire() as conn, conn.transaction():
                    await self.queue.enqueue(conn, jobs, topic)

    def start(self, pool: asyncpg.Pool) -> None:
        self.queue = JobQueue(pool, self.service, RetryPolicy.from_settings(self.settings))
        self.runner = JobRunner(self.queue, self.handlers, publish_dead_letter(self.broker, self.service),
                                concurrency=self.settings.concurrency)
        self.runner.start()

    def pool(self) -> asyncpg.Pool | None:
        """The job table's pool, once started."""
        return self.queue.pool if self.queue else None

    async def stop(self) -> None:
        if self.runner:
            await self.runner.stop(timeout=self.settings.shutdown_grace_seconds)
