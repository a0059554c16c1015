"""Building test events the way the intakes do."""

from __future__ import annotations

import uuid

from services.router.assignment import build_assignment
from services.router.rules import load_ruleset
from shared.contracts import Anonymity, Channel, ComplaintAssigned, ComplaintReceived, Reporter


def received(text: str = "Petugas loket minta imbalan untuk tanda tangan surat", *,
             channel: str = Channel.WEB, anonymity: Anonymity = Anonymity.NONE,
             reporter: Reporter | None = None, message_id: str | None = None) -> ComplaintReceived:
    return ComplaintReceived.new(
        channel=channel, channel_message_id=message_id or f"test-{uuid.uuid4()}", text=text,
        producer="tests", anonymity=anonymity,
        reporter=reporter or Reporter(name="Siti Aminah", phone="+6281234567890", email="siti@example.id"),
    )


def assignment_for(event: ComplaintReceived, sequence: int = 1) -> ComplaintAssigned:
    """What the router decides for `event` with the shipped rules."""
    return build_assignment(event, load_ruleset().route(event.text, event.channel), sequence)


def assigned(text: str = "Petugas loket minta imbalan untuk tanda tangan surat", **kwargs) -> ComplaintAssigned:
    return assignment_for(received(text, **kwargs))
