"""Receipts: what a channel reports on a message we sent, recorded beside its delivery.

A failed acknowledgement or status message is not left at that: when Meta says free text failed
because the citizen's 24-hour window had closed (131047), the approved template that the delivery
recorded as its fallback is sent instead, as a job of its own (once, whatever is redelivered).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import structlog

from shared.contracts import DeliveryReceipt, DeliveryState
from shared.jobs import Deliveries, NewJob

log = structlog.get_logger(__name__)

WINDOW_CLOSED = 131047  # Meta: "Re-engagement message", more than 24 hours since the citizen wrote
# Meta may report on a message before our job has written down the id the Cloud API gave it; a failure
# for an id no job has yet is read again for this long, then only recorded.
UNMATCHED_GRACE = timedelta(minutes=2)
ORDER = [state.value for state in DeliveryState]  # sent, delivered, read, failed: how far a message got


class DeliveryNotYetRecorded(Exception):
    """The failed message's job has not recorded its id yet: the receipt is read again (not committed)."""


class Receipts:
    def __init__(self, deliveries: Deliveries) -> None:
        self.deliveries = deliveries

    async def record(self, receipt: DeliveryReceipt) -> None:
        queue = self.deliveries.queue
        assert queue is not None  # the consumer starts after the pool
        async with queue.pool.acquire() as conn, conn.transaction():
            # Receipts arrive out of order ("read" before "delivered"): a row only moves forward.
            await conn.execute(
                """INSERT INTO delivery_receipts (message_id, channel, state, state_at, error_code, error_title)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (message_id) DO UPDATE
                   SET state = EXCLUDED.state, state_at = EXCLUDED.state_at, error_code = EXCLUDED.error_code,
                       error_title = EXCLUDED.error_title, updated_at = now()
                   WHERE array_position($7::text[], EXCLUDED.state)
                         > array_position($7::text[], delivery_receipts.state)""",
                receipt.message_id, receipt.channel, receipt.state.value, receipt.at, receipt.error_code,
                receipt.error_title, ORDER)
            if receipt.state is not DeliveryState.FAILED:
                return
            job = await conn.fetchrow(
                "SELECT job_key, kind, complaint_id, result FROM jobs WHERE result ->> 'message_id' = $1",
                receipt.message_id)
            if job is None:
                if datetime.now(UTC) - receipt.occurred_at < UNMATCHED_GRACE:
                    raise DeliveryNotYetRecorded(receipt.message_id)
                log.warning("receipt_for_unknown_message", message_id=receipt.message_id,
                            error_code=receipt.error_code)
                return
            await conn.execute(
                "UPDATE jobs SET last_error = $2, updated_at = now() WHERE job_key = $1", job["job_key"],
                f"{receipt.channel} reported failed: {receipt.error_code} {receipt.error_title or ''}".strip())
            log.warning("delivery_failed", job_key=job["job_key"], kind=job["kind"], error_code=receipt.error_code)
            result = job["result"]
            fallback = (json.loads(result) if isinstance(result, str) else result or {}).get("fallback")
            if receipt.error_code == WINDOW_CLOSED and fallback:
                await queue.enqueue(conn, [NewJob(f"{job['job_key']}:template", "whatsapp_template",
                                                  str(job["complaint_id"]) if job["complaint_id"] else None,
                                                  json.dumps(fallback))], "receipts")
                log.info("template_instead", job_key=job["job_key"])

