"""The LAPOR sync's composition root: mirrors each assigned complaint into SP4N-LAPOR!."""

from __future__ import annotations

from pathlib import Path

import structlog
from faststream.asgi import AsgiFastStream
from prometheus_client import Counter

from services.lapor_sync.lapor_contract import LaporClient, follow_up_for_reassignment, report_from_assignment
from services.lapor_sync.repository import ReportRepository
from services.lapor_sync.settings import LaporSyncSettings
from shared.consumer import consumer_app, consumer_broker, subscriber_options
from shared.contracts import ComplaintAssigned
from shared.topics import Topics

SERVICE = "lapor-sync"
MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)

LAPOR_REPORTS = Counter("aduan_lapor_reports_total", "LAPOR! reports, by outcome", ["outcome"])


def build_app(settings: LaporSyncSettings | None = None) -> AsgiFastStream:
    settings = settings or LaporSyncSettings()
    topics = Topics(settings.kafka.topic_prefix)
    broker = consumer_broker(SERVICE, settings)
    lapor = LaporClient(settings.lapor_base_url, settings.lapor_token.get_secret_value(),
                        settings.lapor_timeout_seconds)
    reports: dict[str, ReportRepository] = {}

    @broker.subscriber(topics.assigned, **subscriber_options(settings.group_id, "lapor-sync"))
    async def on_complaint_assigned(assigned: ComplaintAssigned) -> None:
        with structlog.contextvars.bound_contextvars(complaint_id=assigned.complaint_id,
                                                     correlation_id=assigned.correlation_id):
            db = reports["db"]
            if synced := await db.synced(assigned.complaint_id):
                tracking_id, synced_sequence = synced
                if assigned.sequence <= synced_sequence:
                    LAPOR_REPORTS.labels("already_synced").inc()
                    return
                await lapor.add_follow_up(tracking_id, follow_up_for_reassignment(assigned))
                await db.mark_synced(assigned.complaint_id, assigned.sequence)
                LAPOR_REPORTS.labels("follow_up").inc()
                log.info("lapor_follow_up_posted", lapor_tracking_id=tracking_id, sequence=assigned.sequence)
                return
            # Look up by our reference first: a crash after LAPOR! created the report but
            # before we stored its id must not create a second report.
            report = await lapor.find_by_reference(assigned.complaint_id)
            outcome = "found_existing" if report else "created"
            report = report or await lapor.create_report(report_from_assignment(assigned))
            await db.store(assigned.complaint_id, assigned.assignment_id, report.tracking_id, report.status,
                           assigned.sequence)
            LAPOR_REPORTS.labels(outcome).inc()
            log.info("lapor_report_synced", lapor_tracking_id=report.tracking_id, outcome=outcome)

    app = consumer_app(SERVICE, broker, settings, schema="lapor_sync", migrations=MIGRATIONS,
                       on_pool=lambda pool: reports.update(db=ReportRepository(pool)))
    app.on_shutdown(lapor.close)
    return app
