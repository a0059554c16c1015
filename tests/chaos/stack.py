"""The fault suite's own Kafka and PostgreSQL, and a feeder that keeps publishing through outages.

Everything here runs beside, never on, the shared broker (127.0.0.1:9092) and database
(127.0.0.1:15432) that `make run`, `make test` and other workers use: the suite starts a second
broker and a second cluster with deploy/local/kafka.sh and postgres.sh under a state dir of its
own (`.local/chaos`) on free ports, restarts them at will, and stops them at the end.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from tests.support.kafka import login
from tests.support.own_infra import OwnInfra  # noqa: F401  (re-exported for the suite)
from tests.support.processes import REPO

STATE_DIR = Path(os.environ.get("ADUAN_CHAOS_STATE_DIR", REPO / ".local" / "chaos"))


async def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Feeder:
    """Publishes events at a steady pace, each acknowledged by the broker (acks=all, idempotent
    producer), and keeps going through a broker outage the way an intake's caller does: what was
    not acknowledged is sent again (the same event, so the same complaint_id), with a new producer."""

    bootstrap: str
    topic: str
    events: list[Any]
    seconds: float  # spread the events over this long
    chunk: int = 25
    hold_from: int | None = None  # publish no further than this until `release` is set
    release: asyncio.Event = field(default_factory=asyncio.Event)
    acknowledged: int = 0
    resent: int = 0  # events sent again after an unacknowledged attempt (duplicates on the topic are allowed)
    errors: list[str] = field(default_factory=list)

    async def _producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(**login(self.bootstrap), acks="all", enable_idempotence=True,
                                    request_timeout_ms=10_000, linger_ms=5)
        try:
            await asyncio.wait_for(producer.start(), 15)
        except BaseException:
            await _close(producer)
            raise
        return producer

    async def run(self) -> None:
        started = time.monotonic()
        rate = len(self.events) / self.seconds
        producer: AIOKafkaProducer | None = None
        failing_since: float | None = None
        try:
            while self.acknowledged < len(self.events):
                if self.hold_from is not None and self.acknowledged >= self.hold_from and not self.release.is_set():
                    held = time.monotonic()
                    await self.release.wait()
                    started += time.monotonic() - held  # the pace resumes where it stopped
                due = started + self.acknowledged / rate
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                end = self.acknowledged + self.chunk
                if self.hold_from is not None and not self.release.is_set() and self.acknowledged < self.hold_from:
                    end = min(end, self.hold_from)
                batch = self.events[self.acknowledged:end]
                attempt_started = time.monotonic()
                try:
                    producer = producer or await self._producer()
                    futures = [await producer.send(self.topic, e.model_dump_json().encode(),
                                                   key=e.complaint_id.encode()) for e in batch]
                    await asyncio.wait_for(asyncio.gather(*futures), 20)
                    self.acknowledged += len(batch)
                    if failing_since is not None:  # the pace resumes; no burst to make up for the outage
                        started += time.monotonic() - failing_since
                        failing_since = None
                except Exception as error:  # broker away: a fresh producer, the same events again
                    failing_since = failing_since or attempt_started
                    self.errors.append(repr(error)[:200])
                    self.resent += len(batch)
                    if producer is not None:
                        await _close(producer)
                        producer = None
                    await asyncio.sleep(0.5)
        finally:
            if producer is not None:
                await _close(producer)


async def _close(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 5)
    except Exception:  # a producer of a broker that is down may not flush: it is dropped anyway
        pass
