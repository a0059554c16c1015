"""The channel kit: what every intake service uses to turn a channel's message into an event.

An intake builds a `ComplaintReceived` with `ComplaintReceived.new(...)` and calls
`IntakeKit.publish`, which returns only once Kafka has acknowledged the event (acks=all).
If the broker cannot acknowledge in time the caller gets `BrokerUnavailable`, which the
FastAPI app built by `create_intake_app` answers with HTTP 503 and Retry-After, so the
gateway or Meta retries; the deterministic complaint_id makes that retry harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from shared.contracts import ComplaintReceived
from shared.health import Check, broker_check, health_routes
from shared.kafka import make_broker
from shared.logging import configure_logging
from shared.settings import ServiceSettings
from shared.topics import Topics

log = structlog.get_logger(__name__)

COMPLAINTS_RECEIVED = Counter(
    "aduan_complaints_received_total", "Complaints accepted and acknowledged by Kafka", ["channel"]
)
PUBLISH_FAILURES = Counter(
    "aduan_intake_publish_failures_total", "Complaints refused because Kafka did not acknowledge",
    ["channel"],
)


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge in time; the caller must retry later."""


class IntakeKit:
    def __init__(self, settings: ServiceSettings, producer: str, broker: KafkaBroker | None = None) -> None:
        """`broker`: pass one when the intake also consumes (built by shared.consumer)."""
        self.settings = settings
        self.producer = producer
        self.topics = Topics(settings.kafka.topic_prefix)
        self.broker: KafkaBroker = broker or make_broker(settings.kafka, client_id=producer)

    async def publish(self, event: ComplaintReceived) -> None:
        try:
            await asyncio.wait_for(
                self.broker.publish(event, topic=self.topics.received, key=event.complaint_id.encode(),
                                    correlation_id=event.correlation_id),
                timeout=self.settings.kafka.publish_timeout_seconds,
            )
        except Exception as error:  # timeout, KafkaError, broker not connected: all retryable
            PUBLISH_FAILURES.labels(event.channel).inc()
            log.warning("publish_failed", complaint_id=event.complaint_id, error=repr(error))
            raise BrokerUnavailable(str(error) or type(error).__name__) from error
        COMPLAINTS_RECEIVED.labels(event.channel).inc()
        log.info("complaint_published", complaint_id=event.complaint_id,
                 tracking_code=event.tracking_code, channel=event.channel)


def create_intake_app(
    kit: IntakeKit,
    *,
    title: str,
    extra_checks: dict[str, Check] | None = None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan runs the broker, with health routes and the 503 mapping."""
    configure_logging(kit.producer, kit.settings.log_level)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if on_startup:
            await on_startup()
        await kit.broker.start()
        try:
            yield
        finally:
            await kit.broker.stop()
            if on_shutdown:
                await on_shutdown()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.kit = kit
    for path, asgi in health_routes({"kafka": broker_check(kit.broker), **(extra_checks or {})}):
        app.add_route(path, asgi, include_in_schema=False)

    @app.exception_handler(BrokerUnavailable)
    async def _broker_unavailable(_request: Request, error: BrokerUnavailable) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": "Layanan antrean sedang tidak tersedia, silakan coba lagi.",
                     "reason": "broker_unavailable"},
            headers={"Retry-After": "5"},
        )

    return app
