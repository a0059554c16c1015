"""The notifier's composition root: tells the unit about each assignment by e-mail."""

from __future__ import annotations

from pathlib import Path

import structlog
from faststream.asgi import AsgiFastStream
from prometheus_client import Counter

from services.notifier.mailer import SmtpMailer
from services.notifier.messages import unit_assignment_email
from services.notifier.repository import DeliveryRepository
from services.notifier.settings import NotifierSettings
from shared.consumer import consumer_app, consumer_broker, subscriber_options
from shared.contracts import ComplaintAssigned
from shared.topics import Topics

SERVICE = "notifier"
MIGRATIONS = Path(__file__).parent / "migrations"
UNIT_EMAIL = "unit_email"
log = structlog.get_logger(__name__)

DELIVERIES = Counter("aduan_deliveries_total", "Notifications, by kind and outcome", ["kind", "outcome"])


def build_app(settings: NotifierSettings | None = None, mailer: SmtpMailer | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings()
    topics = Topics(settings.kafka.topic_prefix)
    broker = consumer_broker(SERVICE, settings)
    mailer = mailer or SmtpMailer(settings)
    deliveries: dict[str, DeliveryRepository] = {}

    @broker.subscriber(topics.assigned, **subscriber_options(settings.group_id, "notifier"))
    async def on_complaint_assigned(assigned: ComplaintAssigned) -> None:
        with structlog.contextvars.bound_contextvars(complaint_id=assigned.complaint_id,
                                                     correlation_id=assigned.correlation_id):
            recipient = str(assigned.unit.email)
            message_id = f"<{assigned.assignment_id}.{UNIT_EMAIL}@{settings.mail_domain}>"
            db = deliveries["db"]
            if not await db.begin(assigned.assignment_id, recipient, UNIT_EMAIL,
                                  assigned.complaint_id, message_id):
                DELIVERIES.labels(UNIT_EMAIL, "already_sent").inc()
                log.info("delivery_already_sent", kind=UNIT_EMAIL, unit=assigned.unit.code)
                return
            message = unit_assignment_email(assigned, mail_from=settings.mail_from, message_id=message_id)
            try:
                await mailer.send(message)
            except Exception as error:
                DELIVERIES.labels(UNIT_EMAIL, "failed").inc()
                await db.mark_failed(assigned.assignment_id, recipient, UNIT_EMAIL, repr(error))
                raise  # not committed: the event comes back and the mail is tried again
            await db.mark_sent(assigned.assignment_id, recipient, UNIT_EMAIL)
            DELIVERIES.labels(UNIT_EMAIL, "sent").inc()
            log.info("unit_notified", kind=UNIT_EMAIL, unit=assigned.unit.code)

    return consumer_app(SERVICE, broker, settings, schema="notifier", migrations=MIGRATIONS,
                        on_pool=lambda pool: deliveries.update(db=DeliveryRepository(pool)))
