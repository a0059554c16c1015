"""How an SMS is taken from any gateway: checked, kept in the spool, then handled at once if it can be.

The gateway's answer depends only on whether the SMS is safe with us, never on Kafka or the
status API being up (docs/adr/0003):
- kept in the spool and handled now: 202 with what happened (the complaint's tracking code, ...);
- kept, but Kafka or the status API is away: 202 "queued", and the relay handles it later;
- the spool's database is away: handled at once without it (Kafka's acknowledgement is as durable);
  only when that fails too does the gateway get 503.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from services.intake.sms.inbound import InboundSms, StatusDesk, handle_sms, validated
from services.intake.sms.spool import UNAVAILABLE, Relay, Spool, Unavailable
from shared.channel_kit import BrokerUnavailable, IntakeKit
from shared.complaint_status import StatusUnavailable

log = structlog.get_logger(__name__)
QUEUED = {"complaint": None, "reason": "queued", "queued": True}


@dataclass
class SmsIntake:
    kit: IntakeKit
    desk: StatusDesk
    spool: Spool | None  # None: no spool (unit tests of the handlers); every SMS is handled at once
    # How long a gateway's call waits for handling before it hears "queued": less than a gateway's HTTP
    # timeout, and than Kafka's publish timeout.
    inline_seconds: float = 3.0
    # SMS handled at once at most; past it a new one is kept and answered "queued" straight away, for the
    # relay to handle. Overload is then answered in the time a spool write takes, and never refused: Kannel
    # does not send an SMS again (docs/adr/0003).
    max_inline: int = 16
    inline: int = field(default=0, init=False)
    # Kafka failed the last time: further calls are answered "queued" at once until the relay gets through
    # (smsbox works through its calls a few at a time; each waiting out a timeout held up the rest).
    broker_failing: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.relay = Relay(self.spool, self.handle) if self.spool else None

    async def handle(self, sms: InboundSms) -> dict:
        try:
            outcome = await handle_sms(self.kit, sms, self.desk)
        except BrokerUnavailable as error:
            self.broker_failing = True
            raise Unavailable(f"Kafka: {error}", everything_waits=True) from error
        except StatusUnavailable as error:
            raise Unavailable(f"status API: {error}", everything_waits=False) from error
        self.broker_failing = False
        return outcome

    async def accept(self, sms: InboundSms) -> dict:
        """For a gateway's HTTP request. InvalidText: can never succeed (4xx). BrokerUnavailable or
        StatusUnavailable only when the spool is away too (503: the gateway may ask again)."""
        sms = validated(sms)
        if self.spool is None or self.relay is None:
            return await handle_sms(self.kit, sms, self.desk)
        queue_at_once = self.broker_failing or self.inline >= self.max_inline
        try:
            first_answer = await self.spool.keep(sms, handled_inline=not queue_at_once)
        except UNAVAILABLE as error:
            log.warning("sms_spool_unavailable", gateway=sms.gateway, error=repr(error))
            return await handle_sms(self.kit, sms, self.desk)
        if first_answer is not None:
            return first_answer  # delivered again after it was handled: the same answer, nothing published
        if queue_at_once:
            self.relay.wake.set()
            return QUEUED
        # New, or delivered again while waiting (the gateway retrying: Kafka may be back): try now.
        self.inline += 1
        try:
            outcome = await asyncio.wait_for(self.handle(sms), self.inline_seconds)
        except (Unavailable, TimeoutError) as error:
            if isinstance(error, TimeoutError):
                self.broker_failing = True  # nearly always Kafka, whose publish timeout is longer
            await self._postpone(sms, str(error) or "handling took too long")
            self.relay.wake.set()
            return QUEUED
        finally:
            self.inline -= 1
        try:
            await self.spool.handled(sms, outcome)
        except UNAVAILABLE:
            pass  # handled; the relay will handle it once more under the same ids, which changes nothing
        return outcome

    async def take(self, sms: InboundSms) -> None:
        """For a gateway that keeps the SMS itself until we say so (Gammu's inbox): when this returns,
        the SMS is durable in the spool (the relay handles it) or, without a spool, handled. Raises
        InvalidText (never), spool.UNAVAILABLE or Unavailable (not now: the gateway keeps it)."""
        sms = validated(sms)
        if self.spool is None or self.relay is None:
            await self.handle(sms)
            return
        await self.spool.keep(sms, handled_inline=False)
        self.relay.wake.set()

    async def _postpone(self, sms: InboundSms, error: str) -> None:
        try:
            await self.spool.postpone(sms, error)
        except UNAVAILABLE:
            pass  # the row stays; the relay takes it when its first lease runs out
