"""The notifier: tells units about assignments, answers citizens on their channel (services/notifier/
citizens.py), tells them when their complaint is answered or closed, and mails escalations to unit heads.

Events become delivery jobs (one per assignment and recipient, or per reply), committed with
the offset; shared/jobs.py runs them with retries and dead letters, off the Kafka partition.
`Notifier` holds what the deliveries need, built once; `build_app` wires it to Kafka and the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError

from services.notifier.citizens import Citizens, channel_ways_back
from services.notifier.mailer import SmtpMailer
from services.notifier.messages import (
    escalation_email,
    message_id,
    status_link,
    unit_assignment_email,
    unit_reply_email,
    unit_webhook_payload,
)
from services.notifier.outbound import Outbound
from services.notifier.receipts import Receipts
from services.notifier.settings import NotifierSettings
from services.notifier.sms_limits import SmsLimits
from services.notifier.whatsapp_media import WhatsAppMedia, media_jobs
from shared import contact_seal, unit_access
from shared.consumer import WithHttpApi, consumer_app, consumer_broker, subscriber_options
from shared.contracts import (
    CitizenReplyRequested,
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintStatus,
    ComplaintStatusChanged,
    DeliveryReceipt,
    LaporReportLinked,
    Reporter,
    StatusEvent,
)
from shared.delivery_record import delivery_record_api
from shared.evidence import EvidenceStore
from shared.jobs import MIGRATIONS as JOB_MIGRATIONS
from shared.jobs import Deliveries, Handler, Job, NewJob, PermanentFailure
from shared.topics import Topics
from shared.units import LiveRegistry

SERVICE = "notifier"
MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)
# The citizen hears when there is an answer or the complaint is closed. "acknowledged" is the unit's
# internal step; "returned" is followed by a new assignment, which is mailed to the new unit.
CITIZEN_STATUSES = {ComplaintStatus.RESPONDED, ComplaintStatus.DONE, ComplaintStatus.CLOSED}
UnitEvent = TypeVar("UnitEvent", ComplaintAssigned, ComplaintStatusChanged, ComplaintEscalated)


def citizen_contact(event: ComplaintAssigned | ComplaintStatusChanged) -> Reporter:
    """The contact the intake sealed for us (or, on an event from before sealing, the plain one).
    Unreadable (a key this notifier lacks, tampered text): PermanentFailure, so the job's dead letter says why."""
    if event.sealed_contact is None:
        return event.citizen_contact
    try:
        return Reporter.model_validate_json(contact_seal.open_sealed(event.sealed_contact))
    except (contact_seal.ContactUnreadable, ValidationError) as error:
        raise PermanentFailure(f"the citizen's sealed contact cannot be read: {error}") from error


@dataclass
class Notifier:
    """Which delivery jobs an event makes, and how each job is delivered."""

    settings: NotifierSettings
    units: LiveRegistry
    mailer: SmtpMailer
    outbound: Outbound
    citizens: Citizens
    media: WhatsAppMedia

    def registered(self, event: UnitEvent) -> UnitEvent:
        """The event with its unit's addresses (and the PPID coordinator's) as the registry has them now: an
        event names the unit, it does not say where the unit's mail goes. A unit the registry does not know
        is a PermanentFailure: its job's dead letter says so, and nothing is sent anywhere."""
        registry = self.units.current()
        entry = registry.get(event.unit.code)
        if entry is None:
            raise PermanentFailure(f"unit {event.unit.code!r} is not in the units registry")
        update: dict[str, Any] = {"unit": entry.as_unit()}
        if isinstance(event, ComplaintEscalated):
            update["coordinator_email"] = registry.coordinator_email
        return event.model_copy(update=update)

    def could_reach(self, event: ComplaintAssigned | ComplaintStatusChanged) -> bool:
        """An unreadable contact still makes its job: the job fails with the reason, into the dead letters."""
        try:
            return self.citizens.address(event.channel, citizen_contact(event)) is not None
        except PermanentFailure:
            return True

    def message_id(self, kind: str, key: str) -> str:
        return message_id(kind, key, self.settings.mail_domain)

    def status_link(self, tracking_code: str) -> str:
        return status_link(self.settings.public_base_url, tracking_code)

    def inbox_link(self, unit_code: str, tracking_code: str) -> str | None:
        secret = self.settings.inbox_secret.get_secret_value()
        return unit_access.link_url(secret, self.settings.inbox_base_url, unit_code, tracking_code,
                                    self.settings.inbox_link_days * 86400) if secret else None

    # Events into jobs.

    def jobs_for_assignment(self, assigned: ComplaintAssigned) -> list[NewJob]:
        jobs = [("unit_email", assigned.assignment_id)]
        try:
            if self.registered(assigned).unit.webhook_url:
                jobs.append(("unit_webhook", assigned.assignment_id))
        except PermanentFailure:
            pass  # an unknown unit: its unit_email job fails with the reason
        # The citizen hears once, when the complaint is first assigned, on the channel they used.
        if assigned.sequence == 1 and self.could_reach(assigned):
            jobs.append(("citizen_ack", assigned.complaint_id))
        payload = assigned.model_dump_json()
        # WhatsApp media is kept before Meta lets it go (the first assignment carries it; later ones the same).
        media = media_jobs(assigned) if assigned.sequence == 1 else []
        return [NewJob(f"{kind}:{key}", kind, assigned.complaint_id, payload) for kind, key in jobs] + media

    def jobs_for_reply(self, reply: CitizenReplyRequested) -> list[NewJob]:
        return [NewJob(f"citizen_reply:{reply.reply_id}", "citizen_reply", None, reply.model_dump_json())]

    def jobs_for_status(self, event: ComplaintStatusChanged | ComplaintEscalated | LaporReportLinked
                        ) -> list[NewJob]:
        if isinstance(event, ComplaintStatusChanged):
            if event.status is ComplaintStatus.REPLIED:
                return [NewJob(f"unit_reply_email:{event.change_id}", "unit_reply_email", event.complaint_id,
                               event.model_dump_json())]
            if event.status in CITIZEN_STATUSES and self.could_reach(event):
                return [NewJob(f"citizen_status:{event.change_id}", "citizen_status", event.complaint_id,
                               event.model_dump_json())]
        elif isinstance(event, ComplaintEscalated):
            try:
                known = self.registered(event)
            except PermanentFailure:
                known = event  # its job fails with the reason
            if known.unit.head_email or known.coordinator_email:
                return [NewJob(f"escalation_email:{event.escalation_id}", "escalation_email", event.complaint_id,
                               event.model_dump_json())]
            log.warning("escalation_without_recipient", escalation_id=event.escalation_id, unit=event.unit.code)
        return []  # LaporReportLinked: nothing to tell anyone

    # Jobs into deliveries.

    def handlers(self) -> dict[str, Handler]:
        return {"unit_email": self.unit_email, "unit_reply_email": self.reply_to_unit,
                "unit_webhook": self.unit_webhook, "citizen_ack": self.citizen_ack,
                "citizen_reply": self.citizen_reply, "citizen_status": self.citizen_status,
                "escalation_email": self.escalation, "whatsapp_template": self.whatsapp_template,
                "whatsapp_media": self.whatsapp_media}

    async def unit_email(self, job: Job) -> dict[str, Any]:
        assigned = self.registered(ComplaintAssigned.model_validate(job.payload))
        await self.mailer.send(unit_assignment_email(
            assigned, mail_from=self.settings.mail_from,
            message_id=self.message_id("unit_email", assigned.assignment_id),
            link=self.status_link(assigned.tracking_code),
            inbox_link=self.inbox_link(assigned.unit.code, assigned.tracking_code)))
        return {"to": str(assigned.unit.email)}

    async def reply_to_unit(self, job: Job) -> dict[str, Any]:
        change = self.registered(ComplaintStatusChanged.model_validate(job.payload))
        await self.mailer.send(unit_reply_email(
            change, mail_from=self.settings.mail_from,
            message_id=self.message_id("unit_reply_email", change.change_id),
            link=self.status_link(change.tracking_code),
            inbox_link=self.inbox_link(change.unit.code, change.tracking_code)))
        return {"to": str(change.unit.email)}

    async def unit_webhook(self, job: Job) -> dict[str, Any]:
        assigned = self.registered(ComplaintAssigned.model_validate(job.payload))
        if not assigned.unit.webhook_url:
            raise PermanentFailure(f"unit {assigned.unit.code!r} has no webhook in the units registry any more")
        await self.outbound.unit_webhook(assigned.unit.webhook_url, assigned.unit.code,
                                         unit_webhook_payload(assigned), delivery_id=job.job_key)
        return {"to": assigned.unit.webhook_url}

    async def citizen_ack(self, job: Job) -> dict[str, Any]:
        assigned = self.registered(ComplaintAssigned.model_validate(job.payload))
        way, to = self.citizens.way_to(assigned.channel, citizen_contact(assigned))
        sent = await way.acknowledge(assigned, to, self.status_link(assigned.tracking_code), job.job_key)
        return {"channel": assigned.channel, **sent}

    async def citizen_status(self, job: Job) -> dict[str, Any]:
        change = self.registered(ComplaintStatusChanged.model_validate(job.payload))
        way, to = self.citizens.way_to(change.channel, citizen_contact(change))
        sent = await way.tell_status(change, to, self.status_link(change.tracking_code), job.job_key)
        return {"channel": change.channel, "status": change.status, **sent}

    async def citizen_reply(self, job: Job) -> dict[str, Any]:
        reply = CitizenReplyRequested.model_validate(job.payload)
        return {"channel": reply.channel, **await self.citizens.answer(reply)}

    async def escalation(self, job: Job) -> dict[str, Any]:
        escalated = self.registered(ComplaintEscalated.model_validate(job.payload))
        # To the head with the coordinator in Cc; to the coordinator alone when the unit has no head on record.
        to, *cc = [str(address) for address in (escalated.unit.head_email, escalated.coordinator_email) if address]
        await self.mailer.send(escalation_email(
            escalated, to=to, cc=cc, mail_from=self.settings.mail_from,
            message_id=self.message_id("escalation_email", escalated.escalation_id),
            link=self.status_link(escalated.tracking_code)))
        return {"to": to, "cc": cc}

    async def whatsapp_template(self, job: Job) -> dict[str, Any]:
        """The template sent instead of free text that Meta reported failed for the 24-hour window."""
        fallback = job.payload
        sent = await self.outbound.whatsapp_template(fallback["to"], fallback["template"], fallback["parameters"])
        return {"channel": "whatsapp", **sent.record()}

    async def whatsapp_media(self, job: Job) -> dict[str, Any]:
        return await self.media.keep(job.payload["complaint_id"], job.payload["media_id"])

    async def close(self) -> None:
        await self.outbound.close()
        await self.citizens.close()
        await self.mailer.close()


def build_app(settings: NotifierSettings | None = None) -> WithHttpApi:
    settings = settings or NotifierSettings()
    contact_seal.private_keys()  # without its key the notifier cannot answer anyone: it does not start
    units = LiveRegistry(settings.units_file)  # an invalid registry: no start
    topics = Topics(settings.kafka.topic_prefix)
    broker = consumer_broker(SERVICE, settings)
    mailer = SmtpMailer(settings)
    # The SMS limits count in the job queue's database, which exists once the consumer has started.
    outbound = Outbound(settings, SmsLimits(settings, lambda: deliveries.queue.pool))
    citizens = Citizens.of(settings, mailer, outbound, channel_ways_back())
    evidence = EvidenceStore(settings.evidence)
    media = WhatsAppMedia(outbound.http, settings.whatsapp_api_url, settings.whatsapp_token.get_secret_value(),
                          evidence)
    notifier = Notifier(settings, units, mailer, outbound, citizens, media)

    deliveries = Deliveries(SERVICE, broker, settings, notifier.handlers())
    deliveries.consume(topics.assigned, ComplaintAssigned, "notifier", notifier.jobs_for_assignment)
    deliveries.consume(topics.replies, CitizenReplyRequested, "notifier-replies", notifier.jobs_for_reply)
    deliveries.consume(topics.status, StatusEvent, "notifier-status", notifier.jobs_for_status)
    receipts = Receipts(deliveries)

    @broker.subscriber(topics.delivery_receipts, **subscriber_options(settings.group_id, "notifier-receipts"))
    async def on_receipt(receipt: DeliveryReceipt) -> None:
        await receipts.record(receipt)

    app = consumer_app(SERVICE, broker, settings, schema="notifier", migrations=(MIGRATIONS, JOB_MIGRATIONS),
                       on_pool=deliveries.start)
    app.on_startup(evidence.open)
    app.on_shutdown(deliveries.stop)
    app.on_shutdown(notifier.close)
    app.on_shutdown(evidence.close)
    return WithHttpApi(app, delivery_record_api(SERVICE, deliveries.pool, settings.record_token))
