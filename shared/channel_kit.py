"""The channel kit: everything an intake service needs to turn a channel's message into an event.

A channel (see docs/adding-a-channel.md) does three things of its own: speak its counterpart's
protocol, turn a message into `ComplaintReceived.new(channel=..., channel_message_id=...)`,
and call `IntakeKit.publish`. The kit does the rest:

- `publish` returns only once Kafka has acknowledged the event (acks=all, idempotent
  producer). When Kafka cannot acknowledge in time it raises `BrokerUnavailable`, which the
  app built by `create_intake_app` answers with HTTP 503 and Retry-After: gateways and Meta
  retry, and the deterministic complaint_id makes the retry harmless.
- `publish_reply` asks the notifier to answer the citizen on their channel;
  `publish_citizen_reply` passes on what the citizen wrote back about a complaint.
- `clean_text` removes control characters and refuses empty or oversized text.
- `signature_is_valid` checks an HMAC-SHA256 signature in constant time.
- `create_intake_app` gives JSON logs with masked personal data, /healthz, /readyz,
  /metrics, a request body size limit, and the 503 mapping.
- `WayBack` is how the notifier answers the channel's citizens: a channel's `way_back.py`
  provides one (services/notifier/citizens.py finds it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import Counter
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import contact_seal
from shared.contracts import (
    CitizenReplied,
    CitizenReplyRequested,
    ComplaintReceived,
    Reporter,
    tracking_code_key_is_shared,
)
from shared.health import Check, broker_check, either, health_routes
from shared.kafka import make_broker
from shared.logging import configure_logging
from shared.settings import ServiceSettings
from shared.topics import Topics

log = structlog.get_logger(__name__)

COMPLAINTS_RECEIVED = Counter(
    "aduan_complaints_received_total", "Complaints accepted and acknowledged by Kafka", ["channel"])
PUBLISH_FAILURES = Counter(
    "aduan_intake_publish_failures_total", "Messages refused because Kafka did not acknowledge", ["channel"])
REJECTED = Counter("aduan_intake_rejected_total", "Requests refused as bad input, by reason", ["channel", "reason"])
REFUSED_OVERLOADED = Counter("aduan_intake_overloaded_total", "Requests refused (503) with too many in flight")

DEFAULT_BODY_LIMIT = 256 * 1024
RETRY_AFTER_SECONDS = 5  # a 503's Retry-After: Kafka (or the status API) back within seconds, usually
BROKER_START_WAIT_SECONDS = 10.0  # then the app serves while the broker keeps connecting
MAX_TEXT = 5000
# Control characters other than line breaks and tabs: invisible, and break logs and terminals.
_CONTROL = {"Cc", "Cf", "Cs", "Co", "Cn"}  # Unicode categories
_KEPT = {"\n", "\t"}


class WayBack(Protocol):
    """How the notifier answers a citizen who wrote on a channel: `services/intake/<channel>/way_back.py`
    has `way_back() -> WayBack`, and runs in the notifier. The notifier writes the texts (the
    acknowledgement with the tracking code, status changes) and retries `send` through its job queue:
    raise shared.jobs.RetryLater to wait, PermanentFailure to give up with a reason; anything else is
    retried."""

    def address(self, contact: Reporter) -> str | None:
        """Where this citizen is answered (`contact` is what the intake put in the complaint), or None."""
        ...

    async def send(self, to: str, text: str, reference: str) -> dict[str, Any]:
        """Deliver one message. `reference` is the same on every retry: the counterpart's idempotency key.
        The result is kept with the job (a message id the counterpart's receipts will name)."""
        ...

    async def close(self) -> None: ...


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge in time; the caller must retry later."""


class InvalidText(ValueError):
    """The text cannot be a complaint; `reason` is a short code for the answer."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def clean_text(text: str, max_length: int = MAX_TEXT) -> str:
    """NFC-normalised text without control characters; refuses empty and oversized text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in _KEPT or unicodedata.category(ch) not in _CONTROL)
    # NFC after the removal: an invisible character between a letter and its accent kept them apart.
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        raise InvalidText("empty_text", "Isi aduan kosong.")
    if len(text) > max_length:
        raise InvalidText("text_too_long", f"Isi aduan terlalu panjang (lebih dari {max_length} karakter).")
    return text


def describe(error: ValidationError) -> str:
    """A pydantic error as one readable line: "sender: Field required; text: ..."."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())


def signature_is_valid(secret: str, payload: bytes, header: str | None, prefix: str = "sha256=") -> bool:
    """`header` is `prefix` + hex HMAC-SHA256(secret, payload); compared in constant time."""
    if not secret or not header or not header.startswith(prefix):
        return False
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    # As bytes: compare_digest raises TypeError on non-ASCII str, and a header byte such as 0xE9
    # arrives as "é" (latin-1), which made a forged header a 500 instead of a 401.
    return hmac.compare_digest(expected.encode(), header.removeprefix(prefix).strip().lower().encode())


class IntakeKit:
    def __init__(self, settings: ServiceSettings, producer: str, channel: str,
                 broker: KafkaBroker | None = None) -> None:
        """`broker`: pass one when the intake also consumes (built by shared.consumer)."""
        self.settings = settings
        self.producer = producer
        self.channel = channel
        self.topics = Topics(settings.kafka.topic_prefix)
        self.broker: KafkaBroker = broker or make_broker(settings.kafka, client_id=producer)
        contact_seal.public_key()  # every complaint's contact is sealed with it: without it, no start
        if not tracking_code_key_is_shared():
            log.warning("tracking_code_key_not_set",
                        hint="set ADUAN_TRACKING_CODE_KEY, the same for every intake: codes differ between processes")
        # Declared publishers, so the AsyncAPI document shows what this intake produces.
        self._publishers = {
            self.topics.received: self.broker.publisher(self.topics.received, schema=ComplaintReceived,
                                                        title=f"{producer}:complaints.received"),
            self.topics.replies: self.broker.publisher(self.topics.replies, schema=CitizenReplyRequested,
                                                       title=f"{producer}:citizen.replies"),
            self.topics.citizen_replies: self.broker.publisher(
                self.topics.citizen_replies, schema=CitizenReplied, title=f"{producer}:complaints.citizen_replies"),
        }

    async def _send(self, message: Any, topic: str, key: str, headers: dict[str, str] | None = None) -> None:
        try:
            await asyncio.wait_for(
                self.broker.publish(message, topic=topic, key=key.encode(), headers=headers,
                                    correlation_id=getattr(message, "correlation_id", None)),
                timeout=self.settings.kafka.publish_timeout_seconds)
        except Exception as error:  # timeout, KafkaError, broker not connected: all retryable
            PUBLISH_FAILURES.labels(self.channel).inc()
            log.warning("publish_failed", topic=topic, error=repr(error))
            raise BrokerUnavailable(str(error) or type(error).__name__) from error

    async def publish(self, event: ComplaintReceived) -> None:
        await self._send(event, self.topics.received, event.complaint_id)
        COMPLAINTS_RECEIVED.labels(event.channel).inc()
        log.info("complaint_published", complaint_id=event.complaint_id, tracking_code=event.tracking_code,
                 channel=event.channel, attachments=len(event.attachments))

    async def publish_reply(self, reply: CitizenReplyRequested) -> None:
        await self._send(reply, self.topics.replies, reply.to)
        log.info("reply_requested", reply_id=reply.reply_id, reason=reply.reason, channel=reply.channel)

    async def publish_citizen_reply(self, reply: CitizenReplied) -> None:
        """What the citizen wrote back about their complaint, for the router (and so the unit)."""
        await self._send(reply, self.topics.citizen_replies, reply.complaint_id)
        log.info("citizen_reply_published", complaint_id=reply.complaint_id, reply_id=reply.reply_id,
                 channel=reply.channel)

    async def publish_event(self, event: Any, topic: str, key: str) -> None:
        """Any other event a channel produces (WhatsApp's delivery receipts, say); the app declares its
        publisher (`broker.publisher(topic, schema=...)`) so the AsyncAPI document shows it."""
        await self._send(event, topic, key)
        log.info("event_published", event_type=event.event_type, topic=topic)

    async def publish_raw(self, topic: str, body: bytes, key: str, headers: dict[str, str]) -> None:
        """Bytes that are not an event (what a channel could not use, kept for a person)."""
        await self._send(body, topic, key, headers)

    def reject(self, reason: str, message: str, status: int = 422) -> JSONResponse:
        """The one shape of a refusal: a reason code for machines, a message for people."""
        REJECTED.labels(self.channel, reason).inc()
        log.info("request_rejected", reason=reason)
        return JSONResponse(status_code=status, content={"detail": message, "reason": reason})


class BodySizeLimit:
    """Refuses request bodies over `limit` bytes with 413, declared or streamed."""

    def __init__(self, app: Any, limit: int, limits_by_path: dict[str, int] | None = None) -> None:
        self.app, self.limit, self.limits_by_path = app, limit, limits_by_path or {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits_by_path.get(scope["path"], self.limit)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, limit)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._too_large(send, limit)

    @staticmethod
    async def _too_large(send: Any, limit: int) -> None:
        await send_refusal(send, 413, f"Request body over {limit} bytes.", "body_too_large")


async def send_refusal(send: Any, status: int, detail: str, reason: str,
                       headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """A JSON refusal (detail and reason, as the intakes' other 4xx/5xx) from an ASGI middleware."""
    body = json.dumps({"detail": detail, "reason": reason}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class InFlightLimit:
    """Past `limit` requests in flight, a request is refused at once: 503 with Retry-After and a reason, before
    its body is read. Overload is then answered in milliseconds rather than left hanging until the caller's
    timeout (a gateway or Meta gives up after seconds, and the queue behind grows). The health and metrics
    routes are never refused: the kubelet must still see the intake alive and ready."""

    EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})

    def __init__(self, app: Any, limit: int, retry_after_seconds: int = RETRY_AFTER_SECONDS) -> None:
        self.app, self.limit, self.retry_after = app, limit, str(retry_after_seconds)
        self.in_flight = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            REFUSED_OVERLOADED.inc()
            await send_refusal(send, 503, "Layanan sedang sibuk, silakan coba lagi sebentar lagi.", "overloaded",
                               ((b"retry-after", self.retry_after.encode()),))
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _connect_broker(broker: KafkaBroker, retry_seconds: float = 2.0) -> None:
    """Connect, and keep trying while Kafka is away: an intake that started during an outage answers
    (503, or 202 from a spool) instead of crash-looping, and publishes once Kafka is back."""
    while True:
        try:
            await broker.start()
            return
        except Exception as error:  # KafkaConnectionError and kin: all mean "not yet"
            log.warning("broker_unavailable_at_start", error=repr(error))
            await asyncio.sleep(retry_seconds)


def create_intake_app(
    kit: IntakeKit,
    *,
    title: str,
    extra_checks: dict[str, Check] | None = None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    body_limit: int = DEFAULT_BODY_LIMIT,
    body_limits_by_path: dict[str, int] | None = None,
    ready_without_broker: Check | None = None,
    max_in_flight: int | None = None,
) -> FastAPI:
    """A FastAPI app whose lifespan runs the broker, with health routes, limits and the 503 mapping.

    `ready_without_broker`: for an intake that can keep what it accepts while Kafka is away (the SMS
    spool), the check that says it can; the intake is then ready when either Kafka or it is.
    `max_in_flight`: requests past it are refused with 503 at once (InFlightLimit); None for an intake
    whose gateway does not retry, which must take everything it is given."""
    configure_logging(kit.producer, kit.settings.log_level)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if on_startup:
            await on_startup()
        connecting = asyncio.create_task(_connect_broker(kit.broker))
        await asyncio.wait([connecting], timeout=BROKER_START_WAIT_SECONDS)
        try:
            yield
        finally:
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            await kit.broker.stop()
            if on_shutdown:
                await on_shutdown()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.kit = kit
    app.add_middleware(BodySizeLimit, limit=body_limit, limits_by_path=body_limits_by_path)
    if max_in_flight is not None:
        app.add_middleware(InFlightLimit, limit=max_in_flight)  # outermost: refuses before anything else runs
    kafka = broker_check(kit.broker)
    if ready_without_broker:
        kafka = either(kafka, ready_without_broker)
    for path, asgi in health_routes({"kafka": kafka, **(extra_checks or {})}):
        app.add_route(path, asgi, include_in_schema=False)

    @app.exception_handler(BrokerUnavailable)
    async def _broker_unavailable(_request: Request, _error: BrokerUnavailable) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": "Layanan antrean sedang tidak tersedia, silakan coba lagi.",
                     "reason": "broker_unavailable"},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if request.method in ("POST", "PUT") and not content_type.startswith("application/json") and any(
                e["loc"][:1] == ("body",) for e in error.errors()):
            return kit.reject("unsupported_media_type", "Kirim JSON (Content-Type: application/json).", 415)
        REJECTED.labels(kit.channel, "invalid_payload").inc()
        return JSONResponse(status_code=422, content={"detail": jsonable_encoder(error.errors()),
                                                      "reason": "invalid_payload"})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own refusals (unparseable body, unknown path) get a reason code like ours.
        reason = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "error")
        return JSONResponse(status_code=error.status_code, content={"detail": error.detail, "reason": reason},
                            headers=getattr(error, "headers", None))

    @app.exception_handler(InvalidText)
    async def _invalid_text(_request: Request, error: InvalidText) -> JSONResponse:
        return kit.reject(error.reason, str(error))

    return app
