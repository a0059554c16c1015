"""An intake app with its Kafka broker in memory (FastStream's TestKafkaBroker): for handler tests, which
need no commits, rebalances or redelivery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from faststream.kafka import TestKafkaBroker

from shared.contracts import CitizenReplyRequested, ComplaintReceived


@asynccontextmanager
async def running(app) -> AsyncIterator[tuple[httpx.AsyncClient, list[ComplaintReceived], list[CitizenReplyRequested]]]:
    """A client for the app's HTTP side, and the complaints and replies it published."""
    kit = app.state.kit
    published: list[ComplaintReceived] = []
    replies: list[CitizenReplyRequested] = []

    @kit.broker.subscriber(kit.topics.received)
    async def capture(event: ComplaintReceived) -> None:
        published.append(event)

    @kit.broker.subscriber(kit.topics.replies)
    async def capture_reply(reply: CitizenReplyRequested) -> None:
        replies.append(reply)

    async with TestKafkaBroker(kit.broker):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://intake") as client:
            yield client, published, replies
