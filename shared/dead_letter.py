"""Consumer error handling shared by every consumer: dead letters for what can never succeed.

A message is dead-lettered (copied with the error to the consumer's dead-letter topic, then
committed, so the partition moves on) only when the message itself is at fault:
- its body is not the JSON it claims to be, or does not validate as the handler's argument;
- a handler raises `Unprocessable`, saying why this message can never be handled.

Any other exception is a fault of ours or of a counterpart (a bug, the database down): after a short
pause the message is not committed and comes back (the subscriber's NACK_ON_ERROR policy), loudly,
until the cause is fixed. A bug therefore stops a partition instead of silently parking good
complaints; once the fix is deployed, they are handled.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from fast_depends.exceptions import ValidationError as DependsValidationError
from faststream import BaseMiddleware
from prometheus_client import Counter
from pydantic import ValidationError

from shared.topics import dead_letter_topic

log = structlog.get_logger(__name__)
POISON = Counter("aduan_poison_messages_total", "Messages that can never be handled, dead-lettered",
                 ["service", "topic"])

TRANSIENT_PAUSE_SECONDS = 1.0
ERROR_LIMIT = 2000  # characters of an error kept with a dead letter (x-error) or a failed job

# The body cannot be decoded as its content type says (FastStream decodes it lazily; we do it first).
UNDECODABLE = (json.JSONDecodeError, UnicodeDecodeError)


class Unprocessable(Exception):
    """This message can never be handled, however often it comes back; the text says why.

    Raise it for a fault in the message (an event that contradicts itself, a reference that cannot
    exist), never for a failure of our own: everything else is retried.
    """


def describe(error: BaseException) -> str:
    """What was wrong, for the dead letter's header and the log: where a contract was broken and how,
    never the values (a reporter's contact or words must not reach the log)."""
    original = getattr(error, "original_error", None) or error  # fast_depends wraps pydantic's error
    if isinstance(original, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                             for e in original.errors(include_input=False, include_url=False))
        return f"ValidationError: {problems}"
    return f"{type(error).__name__}: {error}"


class DeadLetters:
    """The middleware for one consuming service (`broker.add_middleware(dead_letters)`), and `park`
    for handlers that read messages themselves (the router's batches)."""

    def __init__(self, consumer: str, broker: Any) -> None:
        self.consumer, self.broker = consumer, broker

    def __call__(self, msg: Any, /, *, context: Any) -> _DeadLetterMiddleware:
        return _DeadLetterMiddleware(msg, context=context, dead_letters=self)

    async def park(self, record: Any, error: BaseException) -> None:
        headers = {
            "x-error": describe(error)[:ERROR_LIMIT],
            "x-consumer": self.consumer,
            "x-original-topic": record.topic,
            "x-original-partition": str(record.partition),
            "x-original-offset": str(record.offset),
        }
        topic = dead_letter_topic(record.topic, self.consumer)
        # Same key, so the dead letter stays next to the complaint it belongs to.
        await self.broker.publish(record.value, topic=topic, key=record.key, headers=headers)
        POISON.labels(self.consumer, record.topic).inc()
        log.error("message_dead_lettered", dead_letter_topic=topic, error=headers["x-error"],
                  original_topic=record.topic, partition=record.partition, offset=record.offset)


class _DeadLetterMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, dead_letters: DeadLetters) -> None:
        super().__init__(msg, context=context)
        self.dead_letters = dead_letters

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        try:
            await msg.decode()  # cached: the handler's arguments are built from this
        except UNDECODABLE as error:
            await self.dead_letters.park(msg.raw_message, error)
            return None
        try:
            return await call_next(msg)
        except (Unprocessable, DependsValidationError) as error:  # the handler's argument does not validate
            await self.dead_letters.park(msg.raw_message, error)
            return None
        except Exception:
            log.exception("message_failed_will_retry")
            await asyncio.sleep(TRANSIENT_PAUSE_SECONDS)
            raise
