"""The LAPOR sync's composition root: mirrors each assigned complaint into SP4N-LAPOR!.

Assignments become jobs (create the report; post each re-assignment as a follow-up), and so do
the status changes LAPOR! must know (the unit's response, done, closed: each a follow-up that
sets the report's status), run by shared/jobs.py with retries and dead letters, behind a
circuit breaker while LAPOR! is down.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from prometheus_client import Counter

from services.lapor_sync.circuit_breaker import CircuitBreaker
from services.lapor_sync.lapor_contract import (
    LAPOR_STATUS,
    LaporClient,
    follow_up_for_reassignment,
    follow_up_for_status,
    report_from_assignment,
)
from services.lapor_sync.repository import ReportRepository
from services.lapor_sync.settings import LaporSyncSettings
from shared.consumer import WithHttpApi, consumer_app, consumer_broker
from shared.contracts import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintStatusChanged,
    LaporReportLinked,
    StatusEvent,
)
from shared.delivery_record import delivery_record_api
from shared.jobs import MIGRATIONS as JOB_MIGRATIONS
from shared.jobs import Deliveries, Job, NewJob, RetryLater
from shared.topics import Topics

SERVICE = "lapor-sync"
MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)

LAPOR_REPORTS = Counter("aduan_lapor_reports_total", "LAPOR! reports, by outcome", ["outcome"])


def build_app(settings: LaporSyncSettings | None = None) -> WithHttpApi:
    settings = settings or LaporSyncSettings()
    topics = Topics(settings.kafka.topic_prefix)
    broker = consumer_broker(SERVICE, settings)
    lapor = LaporClient(settings.lapor_base_url, settings.lapor_token.get_secret_value(),
                        settings.lapor_timeout_seconds)
    breaker = CircuitBreaker(settings.circuit_failures, settings.circuit_open_seconds)
    status_topic = broker.publisher(topics.status, schema=LaporReportLinked)
    state: dict = {}  # "reports": filled at start-up

    def jobs_for_assignment(assigned: ComplaintAssigned) -> list[NewJob]:
        kind, key = (("lapor_create", assigned.complaint_id) if assigned.sequence == 1
                     else ("lapor_follow_up", assigned.assignment_id))
        return [NewJob(f"{kind}:{key}", kind, assigned.complaint_id, assigned.model_dump_json())]

    def jobs_for_status(event: ComplaintStatusChanged | ComplaintEscalated | LaporReportLinked) -> list[NewJob]:
        # Escalations are internal to the city; LaporReportLinked is our own.
        if isinstance(event, ComplaintStatusChanged) and event.status in LAPOR_STATUS:
            return [NewJob(f"lapor_status:{event.change_id}", "lapor_status", event.complaint_id,
                           event.model_dump_json())]
        return []

    async def create_report(job: Job) -> dict:
        assigned = ComplaintAssigned.model_validate(job.payload)
        reports: ReportRepository = state["reports"]
        if synced := await reports.synced(assigned.complaint_id):
            tracking_id, status = synced[0], "stored"
        else:
            # Look up by our reference first: a timeout after LAPOR! created the report, or a
            # crash before we stored its id, must not create a second one. Only an earlier attempt
            # can have done that: the first goes straight to the create (one LAPOR! call, not two).
            report = (None if job.first_attempt
                      else await breaker.call(lambda: lapor.find_by_reference(assigned.complaint_id)))
            outcome = "found_existing" if report else "created"
            report = report or await breaker.call(lambda: lapor.create_report(report_from_assignment(assigned)))
            await reports.store(assigned.complaint_id, assigned.assignment_id, report.tracking_id, report.status,
                                assigned.sequence)
            tracking_id, status = report.tracking_id, report.status
            LAPOR_REPORTS.labels(outcome).inc()
        # Published every time the job completes: consumers of the status topic are idempotent.
        await status_topic.publish(
            LaporReportLinked(complaint_id=assigned.complaint_id, tracking_code=assigned.tracking_code,
                              lapor_tracking_id=tracking_id, lapor_status=status, producer=SERVICE,
                              correlation_id=assigned.correlation_id),
            key=assigned.complaint_id.encode())
        log.info("lapor_report_linked", lapor_tracking_id=tracking_id)
        return {"lapor_tracking_id": tracking_id}

    async def post_follow_up(job: Job) -> dict:
        assigned = ComplaintAssigned.model_validate(job.payload)
        synced = await state["reports"].synced(assigned.complaint_id)
        if synced is None:
            raise RetryLater(10, "the LAPOR! report is not created yet")
        tracking_id, synced_sequence = synced
        if assigned.sequence > synced_sequence:
            await breaker.call(lambda: lapor.add_follow_up(tracking_id, follow_up_for_reassignment(assigned)))
            await state["reports"].mark_synced(assigned.complaint_id, assigned.sequence)
            LAPOR_REPORTS.labels("follow_up").inc()
        return {"lapor_tracking_id": tracking_id, "sequence": assigned.sequence}

    async def post_status(job: Job) -> dict:
        change = ComplaintStatusChanged.model_validate(job.payload)

        async def post(tracking_id: str, status: str) -> None:
            # The change id is the follow-up's reference: a retry after LAPOR! took it gets a 409, not a second one.
            await breaker.call(lambda: lapor.add_follow_up(tracking_id, follow_up_for_status(change, status)))

        tracking_id = await state["reports"].post_status(change.complaint_id, change.sequence,
                                                         LAPOR_STATUS[change.status], post)
        if tracking_id is None:
            raise RetryLater(10, "the LAPOR! report is not created yet")
        LAPOR_REPORTS.labels("status").inc()
        return {"lapor_tracking_id": tracking_id, "status": change.status}

    deliveries = Deliveries(SERVICE, broker, settings, {"lapor_create": create_report,
                                                        "lapor_follow_up": post_follow_up,
                                                        "lapor_status": post_status})
    deliveries.consume(topics.assigned, ComplaintAssigned, "lapor-sync", jobs_for_assignment)
    deliveries.consume(topics.status, StatusEvent, "lapor-sync-status", jobs_for_status)

    def on_pool(pool) -> None:
        state["reports"] = ReportRepository(pool)
        deliveries.start(pool)

    app = consumer_app(SERVICE, broker, settings, schema="lapor_sync", migrations=(MIGRATIONS, JOB_MIGRATIONS),
                       on_pool=on_pool)
    app.on_shutdown(deliveries.stop)
    app.on_shutdown(lapor.close)
    return WithHttpApi(app, delivery_record_api(SERVICE, deliveries.pool, settings.record_token))
