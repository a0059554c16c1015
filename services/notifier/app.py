"""The notifier's composition root: tells units about assignments, answers citizens on their channel,
tells them when their complaint is answered or closed, and mails escalations to unit heads.

Events become delivery jobs (one per assignment and recipient, or per reply), committed with
the offset; shared/jobs.py runs them with retries and dead letters, off the Kafka partition.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import structlog
from faststream.asgi import AsgiFastStream
from pydantic import ValidationError

from services.notifier.mailer import SmtpMailer
from services.notifier.messages import (
    citizen_ack_email,
    citizen_ack_text,
    citizen_status_email,
    citizen_status_template_parameters,
    citizen_status_text,
    escalation_email,
    status_link,
    unit_assignment_email,
    unit_reply_email,
    unit_webhook_payload,
)
from services.notifier.outbound import Outbound
from services.notifier.receipts import Receipts
from services.notifier.settings import NotifierSettings
from services.notifier.sms_limits import SmsLimits
from shared import contact_seal, unit_access
from shared.consumer import consumer_app, consumer_broker, subscriber_options
from shared.contracts import (
    STATUS_BUTTON_PREFIX,
    Channel,
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
from shared.jobs import MIGRATIONS as JOB_MIGRATIONS
from shared.jobs import Deliveries, Job, NewJob, NotSent, PermanentFailure
from shared.topics import Topics
from shared.units import LiveRegistry

SERVICE = "notifier"
MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)
# The citizen hears when there is an answer or the complaint is closed. "acknowledged" is the unit's
# internal step; "returned" is followed by a new assignment, which is mailed to the new unit.
CITIZEN_STATUSES = {ComplaintStatus.RESPONDED, ComplaintStatus.DONE, ComplaintStatus.CLOSED}
STATUS_BUTTON_TITLE = "Cek status"  # Meta: at most 20 characters
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


def citizen_reachable(channel: str, contact: Reporter) -> str | None:
    """Web complaints are answered by e-mail, the others on the phone number they came from; WhatsApp
    citizens who withhold their number at their business-scoped user id (BSUID)."""
    if channel == Channel.WEB:
        return contact.email
    if channel == Channel.WHATSAPP:
        return contact.phone or contact.channel_user_id
    return contact.phone


def could_reach(event: ComplaintAssigned | ComplaintStatusChanged) -> bool:
    """An unreadable contact still makes its job: the job fails with the reason, into the dead letters."""
    try:
        return citizen_reachable(event.channel, citizen_contact(event)) is not None
    except PermanentFailure:
        return True


def build_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings()
    contact_seal.private_keys()  # without its key the notifier cannot answer anyone: it does not start
    units = LiveRegistry(settings.units_file)  # an invalid registry: no start

    def registered(event: UnitEvent) -> UnitEvent:
        """The event with its unit's addresses (and the PPID coordinator's) as the registry has them now: an
        event names the unit, it does not say where the unit's mail goes. A unit the registry does not know
        is a PermanentFailure: its job's dead letter says so, and nothing is sent anywhere."""
        registry = units.current()
        entry = registry.get(event.unit.code)
        if entry is None:
            raise PermanentFailure(f"unit {event.unit.code!r} is not in the units registry")
        update: dict = {"unit": entry.as_unit()}
        if isinstance(event, ComplaintEscalated):
            update["coordinator_email"] = registry.coordinator_email
        return event.model_copy(update=update)

    def webhook_url(assigned: ComplaintAssigned) -> str | None:
        try:
            return registered(assigned).unit.webhook_url
        except PermanentFailure:
            return None  # its unit_email job fails with the reason

    topics = Topics(settings.kafka.topic_prefix)
    broker = consumer_broker(SERVICE, settings)
    # The limits count in the job queue's database, which exists once the consumer has started.
    mailer = SmtpMailer(settings)
    outbound = Outbound(settings, SmsLimits(settings, lambda: deliveries.queue.pool))

    def message_id(kind: str, key: str) -> str:
        return f"<{key}.{kind}@{settings.mail_domain}>"

    def jobs_for_assignment(assigned: ComplaintAssigned) -> list[NewJob]:
        jobs = [("unit_email", assigned.assignment_id)]
        if webhook_url(assigned):
            jobs.append(("unit_webhook", assigned.assignment_id))
        # The citizen hears once, when the complaint is first assigned, on the channel they used.
        if assigned.sequence == 1 and could_reach(assigned):
            jobs.append(("citizen_ack", assigned.complaint_id))
        payload = assigned.model_dump_json()
        return [NewJob(f"{kind}:{key}", kind, assigned.complaint_id, payload) for kind, key in jobs]

    def jobs_for_reply(reply: CitizenReplyRequested) -> list[NewJob]:
        return [NewJob(f"citizen_reply:{reply.reply_id}", "citizen_reply", None, reply.model_dump_json())]

    def jobs_for_status(event: ComplaintStatusChanged | ComplaintEscalated | LaporReportLinked) -> list[NewJob]:
        if isinstance(event, ComplaintStatusChanged):
            if event.status is ComplaintStatus.REPLIED:
                return [NewJob(f"unit_reply_email:{event.change_id}", "unit_reply_email", event.complaint_id,
                               event.model_dump_json())]
            if event.status in CITIZEN_STATUSES and could_reach(event):
                return [NewJob(f"citizen_status:{event.change_id}", "citizen_status", event.complaint_id,
                               event.model_dump_json())]
        elif isinstance(event, ComplaintEscalated):
            try:
                known = registered(event)
            except PermanentFailure:
                known = event  # its job fails with the reason
            if known.unit.head_email or known.coordinator_email:
                return [NewJob(f"escalation_email:{event.escalation_id}", "escalation_email", event.complaint_id,
                               event.model_dump_json())]
            log.warning("escalation_without_recipient", escalation_id=event.escalation_id, unit=event.unit.code)
        return []  # LaporReportLinked: nothing to tell anyone

    def inbox_link(unit_code: str, tracking_code: str) -> str | None:
        secret = settings.inbox_secret.get_secret_value()
        return unit_access.link_url(secret, settings.inbox_base_url, unit_code, tracking_code,
                                    settings.inbox_link_days * 86400) if secret else None

    async def unit_email(job: Job) -> dict:
        assigned = registered(ComplaintAssigned.model_validate(job.payload))
        await mailer.send(unit_assignment_email(
            assigned, mail_from=settings.mail_from, message_id=message_id("unit_email", assigned.assignment_id),
            link=status_link(settings.public_base_url, assigned.tracking_code),
            inbox_link=inbox_link(assigned.unit.code, assigned.tracking_code)))
        return {"to": str(assigned.unit.email)}

    async def reply_to_unit(job: Job) -> dict:
        change = registered(ComplaintStatusChanged.model_validate(job.payload))
        await mailer.send(unit_reply_email(
            change, mail_from=settings.mail_from, message_id=message_id("unit_reply_email", change.change_id),
            link=status_link(settings.public_base_url, change.tracking_code),
            inbox_link=inbox_link(change.unit.code, change.tracking_code)))
        return {"to": str(change.unit.email)}

    async def unit_webhook(job: Job) -> dict:
        assigned = registered(ComplaintAssigned.model_validate(job.payload))
        if not assigned.unit.webhook_url:
            raise PermanentFailure(f"unit {assigned.unit.code!r} has no webhook in the units registry any more")
        await outbound.unit_webhook(assigned.unit.webhook_url, assigned.unit.code, unit_webhook_payload(assigned),
                                    delivery_id=job.job_key)
        return {"to": assigned.unit.webhook_url}

    async def citizen_ack(job: Job) -> dict:
        assigned = registered(ComplaintAssigned.model_validate(job.payload))
        link = status_link(settings.public_base_url, assigned.tracking_code)
        contact = citizen_contact(assigned)
        if assigned.channel == Channel.SMS:
            await outbound.sms(contact.phone, citizen_ack_text(assigned, link), reference=job.job_key,
                               gateway=assigned.reply_gateway)
        elif assigned.channel == Channel.WHATSAPP:
            sent = await outbound.whatsapp(
                citizen_reachable(assigned.channel, contact), citizen_ack_text(assigned, link), assigned.received_at,
                (settings.whatsapp_template, [assigned.tracking_code, assigned.unit.name]),
                button=(f"{STATUS_BUTTON_PREFIX}{assigned.tracking_code}", STATUS_BUTTON_TITLE))
            assert sent is not None  # the acknowledgement always has its template
            return {"channel": assigned.channel, **sent.record()}
        elif contact.email:
            await mailer.send(citizen_ack_email(assigned, to=str(contact.email), mail_from=settings.mail_from,
                                                message_id=message_id("citizen_ack", assigned.complaint_id),
                                                link=link))
        else:
            raise PermanentFailure(f"no way to reach the citizen on channel {assigned.channel}")
        return {"channel": assigned.channel}

    async def citizen_status(job: Job) -> dict:
        change = registered(ComplaintStatusChanged.model_validate(job.payload))
        contact = citizen_contact(change)
        if change.channel == Channel.SMS:
            await outbound.sms(contact.phone, citizen_status_text(
                change, status_link(settings.public_base_url, change.tracking_code)), reference=job.job_key,
                gateway=change.reply_gateway)
        elif change.channel == Channel.WHATSAPP:
            # Days after the complaint and with no record of the citizen's last message: outside the
            # 24-hour window as far as we know, so the approved template.
            sent = await outbound.whatsapp_template(citizen_reachable(change.channel, contact),
                                                    settings.whatsapp_status_template,
                                                    citizen_status_template_parameters(change))
            return {"channel": change.channel, "status": change.status, **sent.record()}
        elif contact.email:
            await mailer.send(citizen_status_email(
                change, to=str(contact.email), mail_from=settings.mail_from,
                message_id=message_id("citizen_status", change.change_id),
                thread_id=message_id("citizen_ack", change.complaint_id),
                link=status_link(settings.public_base_url, change.tracking_code)))
        else:
            raise PermanentFailure(f"no way to reach the citizen on channel {change.channel}")
        return {"channel": change.channel, "status": change.status}

    async def escalation(job: Job) -> dict:
        escalated = registered(ComplaintEscalated.model_validate(job.payload))
        # To the head with the coordinator in Cc; to the coordinator alone when the unit has no head on record.
        to, *cc = [str(address) for address in (escalated.unit.head_email, escalated.coordinator_email) if address]
        await mailer.send(escalation_email(
            escalated, to=to, cc=cc, mail_from=settings.mail_from,
            message_id=message_id("escalation_email", escalated.escalation_id),
            link=status_link(settings.public_base_url, escalated.tracking_code)))
        return {"to": to, "cc": cc}

    async def citizen_reply(job: Job) -> dict:
        reply = CitizenReplyRequested.model_validate(job.payload)
        if reply.channel == Channel.SMS:
            await outbound.sms(reply.to, reply.text, reference=reply.reply_id, gateway=reply.gateway)
        elif reply.channel == Channel.WHATSAPP:
            # An answer to what the citizen just sent: no approved template says it, so once their window has
            # closed (the notifier was down for a day) it is not sent at all.
            sent = await outbound.whatsapp(reply.to, reply.text, reply.occurred_at, template=None)
            if sent is None:
                raise NotSent("outside the 24-hour window")
            return {"channel": reply.channel, **sent.record()}
        else:
            raise PermanentFailure(f"replies on channel {reply.channel} are not supported")
        return {"channel": reply.channel}

    async def whatsapp_template(job: Job) -> dict:
        """The template sent instead of free text that Meta reported failed for the 24-hour window."""
        fallback = job.payload
        sent = await outbound.whatsapp_template(fallback["to"], fallback["template"], fallback["parameters"])
        return {"channel": Channel.WHATSAPP, **sent.record()}

    deliveries = Deliveries(SERVICE, broker, settings, {
        "unit_email": unit_email, "unit_reply_email": reply_to_unit, "unit_webhook": unit_webhook,
        "citizen_ack": citizen_ack, "citizen_reply": citizen_reply, "citizen_status": citizen_status,
        "escalation_email": escalation, "whatsapp_template": whatsapp_template})
    deliveries.consume(topics.assigned, ComplaintAssigned, "notifier", jobs_for_assignment)
    deliveries.consume(topics.replies, CitizenReplyRequested, "notifier-replies", jobs_for_reply)
    deliveries.consume(topics.status, StatusEvent, "notifier-status", jobs_for_status)
    receipts = Receipts(deliveries)

    @broker.subscriber(topics.delivery_receipts, **subscriber_options(settings.group_id, "notifier-receipts"))
    async def on_receipt(receipt: DeliveryReceipt) -> None:
        await receipts.record(receipt)

    app = consumer_app(SERVICE, broker, settings, schema="notifier", migrations=(MIGRATIONS, JOB_MIGRATIONS),
                       on_pool=deliveries.start)
    app.on_shutdown(deliveries.stop)
    app.on_shutdown(outbound.close)
    return app
