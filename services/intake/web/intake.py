"""What the web intake's pages, API and read-model consumers share: `WebIntake`, built once at start-up and
reached through `web_intake` (FastAPI) or the read model's consumers (read_model.py); and the rules they apply alike.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from fastapi import Request
from fastapi.templating import Jinja2Templates

from services.intake.web.rate_limit import RateLimiter
from services.intake.web.settings import WebSettings
from services.intake.web.status import ComplaintStatusView, StatusRepository
from shared.channel_kit import IntakeKit
from shared.contracts import Channel, CitizenReplied, ComplaintReceived, citizen_reply_id_for
from shared.dead_letter import DeadLetters
from shared.evidence import EvidenceStore
from shared.statuses import CITIZEN_MAY_REPLY

SERVICE = "intake-web"
MAX_REPLY = 3000  # characters of a citizen's reply to a unit's response


class NotReplyable(Exception):
    """Why a citizen's reply cannot be taken: an HTTP status, a reason code, a message for people."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def client_address(peer: str, forwarded_for: str | None, trusted_hops: int) -> str:
    """Who is asking, for the rate limit: the address our `trusted_hops`-th proxy saw. The left-most
    X-Forwarded-For entry is whatever the client wrote (a fresh one per request escaped every limit)."""
    if trusted_hops == 0:
        return peer
    seen = [part.strip() for part in (forwarded_for or "").split(",")[-trusted_hops:]]
    return seen[0] if len(seen) == trusted_hops and seen[0] else peer


def scoped(source: str, key: str, *content: object) -> str:
    """The message id of a submission: the caller's Idempotency-Key (or the form's submission id) with a digest
    of what was submitted. A retry, the same key with the same content, is the same complaint; someone else
    sending a key they saw or guessed with other content gets a complaint of their own, not the first one's
    tracking code, and cannot shadow it."""
    digest = hashlib.sha256(repr(content).encode()).hexdigest()[:32]
    return f"{source}:{key}:{digest}"


@dataclass
class WebIntake:
    settings: WebSettings
    kit: IntakeKit
    templates: Jinja2Templates
    limiter: RateLimiter
    # Forms with a photo taken at once: each may spool its photo to /tmp until it is answered (a 64 MiB
    # emptyDir in Kubernetes); more at a time filled it, and every upload failed.
    forms_in_hand: asyncio.Semaphore
    dead_letters: DeadLetters  # for the status batches, which read their messages themselves
    evidence: EvidenceStore  # where the form's photo goes (shared/evidence.py)
    open311_limiter: RateLimiter  # per Open311 client (open311.py)
    pool: asyncpg.Pool | None = None
    status: StatusRepository = field(init=False)

    def connected(self, pool: asyncpg.Pool) -> None:
        self.pool, self.status = pool, StatusRepository(pool)

    @property
    def csrf_secret(self) -> str:
        return self.settings.csrf_secret.get_secret_value()

    def rate_limited(self, request: Request) -> float:
        """Seconds this client must wait before submitting again; 0: go ahead."""
        peer = request.client.host if request.client else "unknown"
        return self.limiter.allow(client_address(peer, request.headers.get("x-forwarded-for"),
                                                 self.settings.trusted_proxy_hops))

    async def accept(self, event: ComplaintReceived) -> None:
        """Kafka first (BrokerUnavailable -> 503), then the status page, so it knows the code at once. No fsync
        wait: a row lost in a database crash comes back with the assignment. This intake does not read
        complaints.received.v1 (other channels' reporters are on it), so this is the only "received" row."""
        await self.kit.publish(event)
        await self.status.received(event)

    async def replyable(self, code: str | None) -> ComplaintStatusView:
        """The complaint a reply may be sent to; NotReplyable says why not."""
        if code is None:
            raise NotReplyable(400, "invalid_tracking_code",
                               "Kode lacak tidak valid (10 huruf/angka, mis. ABCDE-12345).")
        found = await self.status.find(code)
        if found is None:
            raise NotReplyable(404, "not_found", "Kode lacak tidak ditemukan.")
        if found.status not in CITIZEN_MAY_REPLY:
            raise NotReplyable(409, "not_replyable", "Balasan hanya dapat dikirim setelah unit menanggapi aduan, "
                                                     "dan sebelum aduan selesai atau ditutup.")
        return found

    async def send_reply(self, found: ComplaintStatusView, message_id: str, text: str) -> CitizenReplied:
        reply = CitizenReplied(
            reply_id=citizen_reply_id_for(Channel.WEB, f"{message_id}:{found.tracking_code}"),
            complaint_id=found.complaint_id, tracking_code=found.tracking_code, channel=Channel.WEB, text=text,
            received_at=datetime.now(UTC), producer=SERVICE, correlation_id=found.complaint_id)
        await self.kit.publish_citizen_reply(reply)  # a broker outage answers 503; sending again is safe
        return reply


async def web_intake(request: Request) -> WebIntake:
    """The FastAPI dependency: the one WebIntake of this app. Async: FastAPI runs a plain `def` dependency
    in a worker thread, a thread hop per request (6 % of the intake's CPU at 50/s)."""
    intake: WebIntake = request.app.state.web
    return intake
