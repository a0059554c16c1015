"""Test-side Kafka access: publish raw records, read a topic from the beginning."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.kafka import client_options
from shared.settings import KafkaSettings


def login(bootstrap: str) -> dict[str, Any]:
    """Client options for this broker, logged in as the environment says (the tests: the local admin)."""
    return client_options(KafkaSettings(bootstrap_servers=bootstrap))


async def publish(bootstrap: str, topic: str, value: bytes, key: bytes | None = None,
                  headers: dict[str, str] | None = None) -> None:
    producer = AIOKafkaProducer(**login(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key,
                                     headers=[(k, v.encode()) for k, v in (headers or {}).items()])
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, until: Callable[[list[Any]], bool],
                     timeout: float = 60.0) -> list[Any]:
    """Every record of `topic` from the beginning, read until `until(records)` holds; raises TimeoutError
    if it does not hold in `timeout` seconds (what a topic holds now, whatever it is: read_all).

    No consumer group: this reader never disturbs the services' offsets.
    """
    consumer = AIOKafkaConsumer(**login(bootstrap), enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while not until(records) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part_records in batch.values():
                records.extend(part_records)
        _check_read(topic, records, until, timeout)
        return records
    finally:
        await consumer.stop()


def _check_read(topic: str, records: list[Any], until: Callable[[list[Any]], bool], timeout: float) -> None:
    if not until(records):
        raise TimeoutError(f"{topic}: {len(records)} records read in {timeout} s, and still not "
                           f"{_describe(until)} (last: {_short(_values_of(records[-3:]))})")


def _values_of(records: list[Any]) -> list[Any]:
    try:
        return json_values(records)
    except ValueError:
        return [r.value for r in records]


async def read_all(bootstrap: str, topic: str, timeout: float = 30.0) -> list[Any]:
    """Every record `topic` holds now: read up to the end offsets taken at the start."""
    consumer = AIOKafkaConsumer(**login(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    def complete(records: list[Any]) -> bool:
        return all(sum(1 for r in records if r.partition == p.partition) >= ends[p] for p in partitions)

    try:
        return await read_topic(bootstrap, topic, until=complete, timeout=timeout)
    except TimeoutError as error:
        raise TimeoutError(f"{topic}: fewer than the {sum(ends.values())} records it held, in {timeout} s") from error


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()  # noqa: SLF001 (a topic created moments ago)
        partitions = consumer.partitions_for_topic(topic) or []
    return [TopicPartition(topic, p) for p in partitions]


def json_values(records: list[Any]) -> list[dict]:
    return [json.loads(r.value) for r in records]


async def events_of(bootstrap: str, topic: str, complaint_id: str, count: int) -> list[dict]:
    """One complaint's events on `topic`, in order, once there are at least `count` of them."""
    def of_complaint(records: list[Any]) -> list[dict]:
        return [v for v in json_values(records) if v["complaint_id"] == complaint_id]

    return of_complaint(await read_topic(bootstrap, topic, until=lambda r: len(of_complaint(r)) >= count))


async def eventually(check: Callable[[], Any | Awaitable[Any]], timeout: float = 60.0, interval: float = 0.25,
                     what: str | None = None) -> Any:
    """Poll an async or sync check until it returns something truthy, and return that.

    Raises TimeoutError when time runs out, naming what was awaited (`what`, or the check's source)
    and the last value seen: a wait that times out fails the test, whether or not the caller asserts.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waited {timeout} s in vain for {what or _describe(check)} (last: {_short(result)})")
        await asyncio.sleep(interval)


async def until(check: Callable[[], Any | Awaitable[Any]], what: str, timeout: float = 60.0) -> Any:
    """Poll `check` until it returns something truthy; raises (naming `what`) when time runs out."""
    return await eventually(check, timeout=timeout, interval=0.3, what=what)


def _describe(check: Callable[..., Any]) -> str:
    """The source of a check (a lambda: its line), for a timeout's message."""
    try:
        source = " ".join(inspect.getsource(check).split())
    except (OSError, TypeError):
        return repr(check)
    return source if len(source) <= 300 else source[:300] + "..."


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 500 else text[:500] + "..."


async def publish_events(bootstrap: str, topic: str, events: list[Any], key: str | None = None) -> None:
    """Events as the services publish them (JSON, keyed by complaint id unless `key` is given),
    through one idempotent producer, all acknowledged on return."""
    producer = AIOKafkaProducer(**login(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, e.model_dump_json().encode(), key=(key or e.complaint_id).encode())
                   for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Where each partition of `topic` ends now: read from here to see only what comes next."""
    consumer = AIOKafkaConsumer(**login(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def read_since(bootstrap: str, topic: str, start: dict[int, int], until: Callable[[list[Any]], bool],
                     timeout: float = 30.0) -> list[Any]:
    """Records of `topic` after the offsets in `start`, read until `until(records)` holds; raises TimeoutError
    if it does not hold in `timeout` seconds (everything since `start`, whatever it is: read_new)."""
    consumer = AIOKafkaConsumer(**login(bootstrap), enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        partitions = [TopicPartition(topic, p) for p in start]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start[tp.partition])
        deadline = time.monotonic() + timeout
        while not until(records) and time.monotonic() < deadline:
            for part_records in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(part_records)
        _check_read(topic, records, until, timeout)
        return records
    finally:
        await consumer.stop()


async def read_new(bootstrap: str, topic: str, start: dict[int, int], timeout: float = 30.0) -> list[Any]:
    """Every record `topic` got after the offsets in `start`, up to its end now."""
    ends = await end_offsets(bootstrap, topic)

    def complete(records: list[Any]) -> bool:
        return all(sum(1 for r in records if r.partition == p) >= ends[p] - start[p] for p in start)

    return await read_since(bootstrap, topic, start, until=complete, timeout=timeout)
