"""What every consuming service shares: its broker, subscriber options, and its ASGI app.

At-least-once: offsets are committed only after the handler returned (AckPolicy
NACK_ON_ERROR); a handler that raises leaves the message uncommitted and it comes back.
A new consumer group starts from the earliest offset so nothing published before its
first start is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, RootModel, ValidationError

from shared.database import create_pool, migrate
from shared.dead_letter import DeadLetters
from shared.health import broker_check, database_check, health_routes
from shared.kafka import BROKER_LOGGER, make_broker
from shared.logging import configure_logging
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


def consumer_broker(service: str, settings: ServiceSettings) -> KafkaBroker:
    configure_logging(service, settings.log_level)
    broker = make_broker(settings.kafka, client_id=service)
    broker.add_middleware(DeadLetters(service, broker))
    return broker


def subscriber_options(group_id: str, title: str) -> dict[str, Any]:
    return {"group_id": group_id, "auto_offset_reset": "earliest",
            "ack_policy": AckPolicy.NACK_ON_ERROR, "title": title}


def batch_options(settings: ServiceSettings, group_id: str, title: str, model: type[BaseModel]) -> dict[str, Any]:
    """A batch subscriber: up to `batch_size` events handled and committed together.

    Its handler gets the batch's Kafka records and reads them one by one (`read_batch`), so the
    AsyncAPI document names their contract in the description rather than as a schema.
    """
    return {"batch": True, "max_records": settings.batch_size, "batch_timeout_ms": 100, "decoder": raw_records,
            "description": f"Batches of {model.__name__} (schema_version 1): see the producer's document.",
            **subscriber_options(group_id, title)}


async def raw_records(message: Any, _default_decoder: Any) -> list[Any]:
    """A batch as its Kafka records: FastStream's own decoder fails the whole batch on one body that is not
    JSON (`read_batch` dead-letters that one alone). The handler needs the records for the dead letters,
    and taking them here spares it `Context("message")`, which FastStream resolves in a worker thread per
    call (9 % of the web intake's CPU, docs/performance.md)."""
    return list(message.raw_message)


async def read_batch(records: list[Any], model: type[BaseModel], dead_letters: DeadLetters) -> list[Any]:
    """The batch's events that can be read; each one that cannot is dead-lettered alone, so one bad
    message neither fails its batch nor blocks the partition."""
    events = []
    for record in records:
        try:
            event = model.model_validate_json(record.value or b"")
            events.append(event.root if isinstance(event, RootModel) else event)  # a union of event types
        except ValidationError as error:  # not JSON, not UTF-8, or not this contract: pydantic says which
            await dead_letters.park(record, error)
    return events


def consumer_app(
    service: str,
    broker: KafkaBroker,
    settings: ServiceSettings,
    *,
    schema: str,
    migrations: Path | tuple[Path, ...],
    on_pool: Callable[[asyncpg.Pool], None],
) -> AsgiFastStream:
    """The service's app: migrations then the broker at start-up; health routes; pool closed last."""
    state: dict[str, asyncpg.Pool] = {}
    app = AsgiFastStream(broker, logger=BROKER_LOGGER, asgi_routes=health_routes({
        "kafka": broker_check(broker), "postgres": database_check(lambda: state.get("pool"))}))

    @app.on_startup
    async def connect_database() -> None:
        pool = await create_pool(settings.db, schema)
        folders = migrations if isinstance(migrations, tuple) else (migrations,)
        applied = await migrate(pool, schema, *folders)
        state["pool"] = pool
        on_pool(pool)
        log.info("service_starting", service=service, migrations_applied=applied)

    @app.after_shutdown
    async def close_database() -> None:
        if pool := state.get("pool"):
            await pool.close()

    return app


class WithHttpApi:
    """A consumer's ASGI app plus a FastAPI app for the paths under `prefixes` (its API, pages).

    AsgiFastStream serves exact paths only (health, metrics); the API needs path parameters.
    Lifespan events go to the FastStream app, which owns the broker and the pool.
    """

    def __init__(self, stream_app: AsgiFastStream, api: Any, prefixes: tuple[str, ...] = ("/api/",)) -> None:
        self.stream_app, self.api, self.prefixes = stream_app, api, prefixes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            await self.api(scope, receive, send)
        else:
            await self.stream_app(scope, receive, send)
