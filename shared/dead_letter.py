"""Consumer error handling shared by every consumer: dead letters for what can never succeed.

- A message that fails validation (it can never be read) is copied with the error to the consumer's
  dead-letter topic and then committed: the partition moves on.
- Any other exception is treated as transient (database or broker down): after a short pause
  the message is not committed and is delivered again (the subscriber's NACK_ON_ERROR policy).
"""

from __future__ import annotations

import asyncio
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


class DeadLetters:
    """The middleware for one consuming service (`broker.add_middleware(dead_letters)`), and `park`
    for handlers that read messages themselves (the router's batches)."""

    def __init__(self, consumer: str, broker: Any) -> None:
        self.consumer, self.broker = consumer, broker

    def __call__(self, msg: Any, /, *, context: Any) -> _DeadLetterMiddleware:
        return _DeadLetterMiddleware(msg, context=context, dead_letters=self)

    async def park(self, record: Any, error: BaseException) -> None:
        headers = {
            "x-error": f"{type(error).__name__}: {error}"[:2000],
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
            return await call_next(msg)
        except (ValidationError, DependsValidationError, UnicodeDecodeError, ValueError) as error:
            await self.dead_letters.park(msg.raw_message, error)
            return None
        except Exception:
            log.exception("message_failed_will_retry")
            await asyncio.sleep(TRANSIENT_PAUSE_SECONDS)
            raise
