"""The way back to the citizen: each channel answers on the channel the citizen used.

E-mail (web), SMS and WhatsApp are built in: they need the notifier's own gear (the SMTP pool, the SMS
gateways and their limits, WhatsApp's 24-hour window and templates). Any other channel brings its way
back in its own package, `services/intake/<channel>/way_back.py` (a `shared.channel_kit.WayBack`), found
at start-up: adding a channel changes nothing here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

import structlog

from services.notifier.mailer import SmtpMailer
from services.notifier.messages import (
    citizen_ack_email,
    citizen_ack_text,
    citizen_status_email,
    citizen_status_template_parameters,
    citizen_status_text,
    message_id,
)
from services.notifier.outbound import Outbound
from services.notifier.settings import NotifierSettings
from shared.channel_kit import WayBack
from shared.contracts import (
    STATUS_BUTTON_PREFIX,
    Channel,
    CitizenReplyRequested,
    ComplaintAssigned,
    ComplaintStatusChanged,
    Reporter,
)
from shared.jobs import NotSent, PermanentFailure

log = structlog.get_logger(__name__)
INTAKES = Path(__file__).resolve().parents[1] / "intake"
STATUS_BUTTON_TITLE = "Cek status"  # Meta: at most 20 characters
Result = dict[str, Any]


class CitizenWay(Protocol):
    """What the notifier says to a citizen of one channel. `to` is `address(contact)`; `reference` is the
    job's key, the same on every retry."""

    def address(self, contact: Reporter) -> str | None: ...
    async def acknowledge(self, assigned: ComplaintAssigned, to: str, link: str, reference: str) -> Result: ...
    async def tell_status(self, change: ComplaintStatusChanged, to: str, link: str, reference: str) -> Result: ...
    async def answer(self, reply: CitizenReplyRequested) -> Result: ...


class EmailWay:
    """Web complaints: the e-mail address the citizen gave; status mail in the acknowledgement's thread."""

    def __init__(self, mailer: SmtpMailer, mail_from: str, mail_domain: str) -> None:
        self.mailer, self.mail_from, self.mail_domain = mailer, mail_from, mail_domain

    def message_id(self, kind: str, key: str) -> str:
        return message_id(kind, key, self.mail_domain)

    def address(self, contact: Reporter) -> str | None:
        return str(contact.email) if contact.email else None

    async def acknowledge(self, assigned: ComplaintAssigned, to: str, link: str, reference: str) -> Result:
        await self.mailer.send(citizen_ack_email(assigned, to=to, mail_from=self.mail_from, link=link,
                                                 message_id=self.message_id("citizen_ack", assigned.complaint_id)))
        return {}

    async def tell_status(self, change: ComplaintStatusChanged, to: str, link: str, reference: str) -> Result:
        await self.mailer.send(citizen_status_email(
            change, to=to, mail_from=self.mail_from, link=link,
            message_id=self.message_id("citizen_status", change.change_id),
            thread_id=self.message_id("citizen_ack", change.complaint_id)))
        return {}

    async def answer(self, reply: CitizenReplyRequested) -> Result:
        raise PermanentFailure(f"replies on channel {reply.channel} are not supported")


class SmsWay:
    """The number the citizen wrote from, through the gateway they wrote to."""

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    def address(self, contact: Reporter) -> str | None:
        return contact.phone

    async def acknowledge(self, assigned: ComplaintAssigned, to: str, link: str, reference: str) -> Result:
        await self.outbound.sms(to, citizen_ack_text(assigned, link), reference=reference,
                                gateway=assigned.reply_gateway)
        return {}

    async def tell_status(self, change: ComplaintStatusChanged, to: str, link: str, reference: str) -> Result:
        await self.outbound.sms(to, citizen_status_text(change, link), reference=reference,
                                gateway=change.reply_gateway)
        return {}

    async def answer(self, reply: CitizenReplyRequested) -> Result:
        await self.outbound.sms(reply.to, reply.text, reference=reply.reply_id, gateway=reply.gateway)
        return {}


class WhatsAppWay:
    """The citizen's number, or their business-scoped user id when they withhold it. Free text inside
    Meta's 24-hour window, an approved template outside it."""

    def __init__(self, outbound: Outbound, settings: NotifierSettings) -> None:
        self.outbound, self.settings = outbound, settings

    def address(self, contact: Reporter) -> str | None:
        return contact.phone or contact.channel_user_id

    async def acknowledge(self, assigned: ComplaintAssigned, to: str, link: str, reference: str) -> Result:
        sent = await self.outbound.whatsapp(
            to, citizen_ack_text(assigned, link), assigned.received_at,
            (self.settings.whatsapp_template, [assigned.tracking_code, assigned.unit.name]),
            button=(f"{STATUS_BUTTON_PREFIX}{assigned.tracking_code}", STATUS_BUTTON_TITLE))
        if sent is None:  # cannot be: the acknowledgement always has its template
            raise RuntimeError("WhatsApp acknowledgement sent without its template")
        return sent.record()

    async def tell_status(self, change: ComplaintStatusChanged, to: str, link: str, reference: str) -> Result:
        # Days after the complaint and with no record of the citizen's last message: outside the 24-hour
        # window as far as we know, so the approved template.
        sent = await self.outbound.whatsapp_template(to, self.settings.whatsapp_status_template,
                                                     citizen_status_template_parameters(change))
        return sent.record()

    async def answer(self, reply: CitizenReplyRequested) -> Result:
        # An answer to what the citizen just sent: no approved template says it, so once their window has
        # closed (the notifier was down for a day) it is not sent at all.
        sent = await self.outbound.whatsapp(reply.to, reply.text, reply.occurred_at, template=None)
        if sent is None:
            raise NotSent("outside the 24-hour window")
        return sent.record()


class ChannelWay:
    """A channel's own way back (shared.channel_kit.WayBack): it gets the same texts SMS citizens read."""

    def __init__(self, way_back: WayBack) -> None:
        self.way_back = way_back

    def address(self, contact: Reporter) -> str | None:
        return self.way_back.address(contact)

    async def acknowledge(self, assigned: ComplaintAssigned, to: str, link: str, reference: str) -> Result:
        return await self.way_back.send(to, citizen_ack_text(assigned, link), reference)

    async def tell_status(self, change: ComplaintStatusChanged, to: str, link: str, reference: str) -> Result:
        return await self.way_back.send(to, citizen_status_text(change, link), reference)

    async def answer(self, reply: CitizenReplyRequested) -> Result:
        return await self.way_back.send(reply.to, reply.text, reply.reply_id)


def channel_ways_back(intakes: Path = INTAKES) -> dict[str, WayBack]:
    """Every `services/intake/<channel>/way_back.py`'s `way_back()`."""
    found: dict[str, WayBack] = {}
    for module_file in sorted(intakes.glob("*/way_back.py")):
        channel = module_file.parent.name
        module = importlib.import_module(f"services.intake.{channel}.way_back")
        found[channel] = module.way_back()
        log.info("channel_way_back_found", channel=channel)
    return found


class Citizens:
    """Each channel's way back, by channel name."""

    def __init__(self, ways: dict[str, CitizenWay]) -> None:
        self.ways = ways

    @classmethod
    def of(cls, settings: NotifierSettings, mailer: SmtpMailer, outbound: Outbound,
           ways_back: dict[str, WayBack]) -> Citizens:
        """The built-in ways, and the channels' own (which cannot replace a built-in one)."""
        ways: dict[str, CitizenWay] = {channel: ChannelWay(way) for channel, way in ways_back.items()}
        ways.update({Channel.WEB: EmailWay(mailer, settings.mail_from, settings.mail_domain),
                     Channel.SMS: SmsWay(outbound), Channel.WHATSAPP: WhatsAppWay(outbound, settings)})
        return cls(ways)

    def address(self, channel: str, contact: Reporter) -> str | None:
        way = self.ways.get(channel)
        return way.address(contact) if way else None

    def way_to(self, channel: str, contact: Reporter) -> tuple[CitizenWay, str]:
        way, to = self.ways.get(channel), self.address(channel, contact)
        if way is None or to is None:
            raise PermanentFailure(f"no way to reach the citizen on channel {channel}")
        return way, to

    async def answer(self, reply: CitizenReplyRequested) -> Result:
        way = self.ways.get(reply.channel)
        if way is None:
            raise PermanentFailure(f"replies on channel {reply.channel} are not supported")
        return await way.answer(reply)

    async def close(self) -> None:
        for way in self.ways.values():
            if isinstance(way, ChannelWay):
                await way.way_back.close()
