"""lapor_sync against the real broker and database and the LAPOR! stand-in, with its faults."""

from __future__ import annotations

import signal
from datetime import UTC, datetime

import httpx
import pytest

from shared.contracts import ComplaintStatus
from shared.topics import dead_letter_topic
from tests.conftest import fast_retries
from tests.support import events
from tests.support.kafka import eventually, json_values, publish, publish_events, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
TOKEN = {"Authorization": "Bearer local-standin-token"}


def lapor_env(standin, **extra: str) -> dict[str, str]:
    return {"ADUAN_LAPOR_SYNC_LAPOR_BASE_URL": standin.url, "ADUAN_LAPOR_SYNC_LAPOR_TIMEOUT_SECONDS": "1",
            "ADUAN_LAPOR_SYNC_CIRCUIT_OPEN_SECONDS": "1", **fast_retries("ADUAN_LAPOR_SYNC_"), **extra}


@pytest.fixture
def lapor_sync(processes, lapor_standin):
    return processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT", lapor_env(lapor_standin))


def reports(standin) -> list[dict]:
    return httpx.get(f"{standin.url}/api/v1/reports", headers=TOKEN).json()["items"]


def reports_for(standin, reference: str) -> list[dict]:
    return [item for item in reports(standin) if item["reference"] == reference]


def faults(standin, **spec) -> None:
    httpx.post(f"{standin.url}/_standin/faults", json=spec).raise_for_status()


async def send(infra, topics, assigned) -> None:
    await publish_events(infra.kafka_bootstrap, topics.assigned, [assigned])


async def test_one_report_per_complaint_its_id_stored_and_published(lapor_sync, lapor_standin, infra, topics, db):
    assigned = events.assigned("Kendaraan dinas bekas lelang aset daerah belum diserahkan ke pemenang")
    for _ in range(3):
        await send(infra, topics, assigned)
    stored = await eventually(lambda: db.fetchval(
        "SELECT lapor_tracking_id FROM lapor_sync.reports WHERE complaint_id = $1", assigned.complaint_id))
    [linked] = json_values(await read_topic(infra.kafka_bootstrap, topics.status, until=lambda r: len(r) >= 1))
    assert (linked["event_type"], linked["lapor_tracking_id"]) == ("complaint.lapor_linked", stored)
    assert await eventually(lambda: db.fetchval(
        "SELECT status = 'done' FROM lapor_sync.jobs WHERE job_key = $1", f"lapor_create:{assigned.complaint_id}"))
    [report] = reports_for(lapor_standin, assigned.complaint_id)
    assert report["tracking_id"] == stored and report["request"]["reporter"]["name"] == "Siti Aminah"


async def test_existing_report_is_found_not_created_again(lapor_sync, lapor_standin, infra, topics, db):
    """A crash after LAPOR! created the report but before we stored its id: the job stays leased to the
    process that died, and whoever takes it when the lease runs out looks the report up (a first attempt,
    which nothing can have preceded, goes straight to the create)."""
    from services.lapor_sync.lapor_contract import LaporClient, report_from_assignment

    assigned = events.assigned("Pembayaran PBB lewat bank gagal tapi saldo terpotong",
                               anonymity=events.Anonymity.ANONIM)
    client = LaporClient(lapor_standin.url, "local-standin-token")
    created_before = await client.create_report(report_from_assignment(assigned))
    await client.close()
    await db.execute(  # as the dead process left it: claimed once, its lease over, no outcome recorded
        """INSERT INTO lapor_sync.jobs (job_key, kind, complaint_id, payload, source_topic, status, attempts,
                                        locked_until)
           VALUES ($1, 'lapor_create', $2, $3, $4, 'pending', 1, now() - interval '1 second')""",
        f"lapor_create:{assigned.complaint_id}", assigned.complaint_id, assigned.model_dump_json(), topics.assigned)
    stored = await eventually(lambda: db.fetchval(
        "SELECT lapor_tracking_id FROM lapor_sync.reports WHERE complaint_id = $1", assigned.complaint_id))
    assert stored == created_before.tracking_id
    [report] = reports_for(lapor_standin, assigned.complaint_id)
    assert report["request"]["reporter"] is None and report["request"]["anonymity"] == "anonim"


async def test_lapor_failing_and_timing_out_then_healthy_every_complaint_has_exactly_one_report(
        lapor_sync, lapor_standin, infra, topics, db):
    batch = [events.assigned(f"Aduan {n} pajak reklame", message_id=f"lapor-faults-{topics.prefix}{n}")
             for n in range(60)]
    faults(lapor_standin, mode="error", count=40)
    await publish_events(infra.kafka_bootstrap, topics.assigned, batch[:30])
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) > 0 FROM lapor_sync.jobs WHERE last_error LIKE '%500%'"), timeout=30)
    # Timeouts: the stand-in creates the report, then answers too late (the client gives up after 1 s).
    faults(lapor_standin, mode="timeout", count=30, delay_seconds=2)
    await publish_events(infra.kafka_bootstrap, topics.assigned, batch[30:])
    ids = {a.complaint_id for a in batch}
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) = 60 FROM lapor_sync.reports WHERE complaint_id = ANY($1::uuid[])", list(ids)), timeout=120)
    held = [r for r in reports(lapor_standin) if r["reference"] in ids]
    assert sorted(r["reference"] for r in held) == sorted(ids), "a complaint has no report, or two"
    stored = {str(r["complaint_id"]): r["lapor_tracking_id"] for r in await db.fetch(
        "SELECT complaint_id, lapor_tracking_id FROM lapor_sync.reports WHERE complaint_id = ANY($1::uuid[])",
        list(ids))}
    assert stored == {r["reference"]: r["tracking_id"] for r in held}
    failed = await db.fetchval("SELECT count(*) FROM lapor_sync.jobs WHERE job_key = ANY($1) AND attempts > 1",
                               [f"lapor_create:{i}" for i in ids])
    print(f"lapor faults: 60 complaints, {len(held)} reports, {len(held) - len(ids)} duplicated, "
          f"{failed} needed more than one attempt")
    assert failed > 0  # the faults really happened


async def test_rate_limit_is_respected(lapor_sync, lapor_standin, infra, topics, db):
    faults(lapor_standin, mode="rate_limit", count=1, retry_after=3)
    assigned = events.assigned("Lelang aset kendaraan belum selesai")
    await send(infra, topics, assigned)
    key = f"lapor_create:{assigned.complaint_id}"
    wait = await eventually(lambda: db.fetchval(
        "SELECT extract(epoch FROM next_attempt_at - updated_at) FROM lapor_sync.jobs"
        " WHERE job_key = $1 AND last_error LIKE '%429%'", key))
    assert wait >= 2.9  # Retry-After: 3, although our own back-off would have tried after a second
    assert await eventually(lambda: reports_for(lapor_standin, assigned.complaint_id), timeout=30)


async def test_reassignment_becomes_one_follow_up(lapor_sync, lapor_standin, infra, topics):
    from services.router.routing.assignment import build_reassignment
    from services.router.routing.rules import load_ruleset

    first = events.assigned("SURGA nama di SPPT PBB masih atas nama pemilik lama")
    ruleset = load_ruleset()
    second = build_reassignment(first, ruleset.unit("hukum"), ruleset_version=ruleset.version,
                                deadlines=ruleset.registry.deadlines_for("hukum"), assigned_by="operator:t",
                                reason="Sengketa waris", now=datetime.now(UTC))
    for event in (first, second, second):
        await send(infra, topics, event)

    async def follow_ups() -> list:
        found = reports_for(lapor_standin, first.complaint_id)
        return found[0]["followups"] if found else []

    [follow_up] = await eventually(follow_ups, timeout=30)
    assert follow_up["reference"] == second.assignment_id and "Sengketa waris" in follow_up["text"]


async def test_lapor_sync_killed_mid_stream_loses_and_doubles_nothing(processes, lapor_standin, infra, topics, db):
    env = lapor_env(lapor_standin)
    worker = processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT", env)
    batch = [events.assigned(f"Aduan {n} retribusi pasar", message_id=f"kill-l-{topics.prefix}{n}") for n in range(300)]
    faults(lapor_standin, mode="slow", delay_seconds=0.02)  # keep the stream going long enough to cut it
    await publish_events(infra.kafka_bootstrap, topics.assigned, batch)
    ids = [a.complaint_id for a in batch]
    stored_at_kill = await eventually(lambda: db.fetchval(
        "SELECT count(*) FROM lapor_sync.reports WHERE complaint_id = ANY($1::uuid[]) HAVING count(*) >= 50", ids),
        timeout=60, interval=0.02)
    processes.stop(worker, signal.SIGKILL)
    httpx.delete(f"{lapor_standin.url}/_standin/faults")
    processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT", env)
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) = 300 FROM lapor_sync.reports WHERE complaint_id = ANY($1::uuid[])", ids), timeout=120)
    held = [r["reference"] for r in reports(lapor_standin) if r["reference"] in set(ids)]
    assert sorted(held) == sorted(ids) and stored_at_kill < 300
    print(f"lapor_sync SIGKILL at {stored_at_kill} stored: 300 complaints, {len(held)} LAPOR reports, "
          f"{len(held) - len(set(held))} duplicated")


def follow_ups_of(standin, complaint_id: str) -> list[dict]:
    found = reports_for(standin, complaint_id)
    return found[0]["followups"] if found else []


async def test_status_changes_wait_for_the_report_then_become_one_follow_up_each(
        lapor_sync, lapor_standin, infra, topics, db):
    assigned = events.assigned("Retribusi parkir di pasar ditarik dua kali")
    responded = events.status_changed(assigned, ComplaintStatus.RESPONDED, 2, "Juru parkir sudah ditegur.")
    done = events.status_changed(assigned, ComplaintStatus.DONE, 3, "Karcis resmi kini diberikan.")
    await publish(infra.kafka_bootstrap, topics.status, b'{"event_type": "complaint.escalated"}', key=b"k")
    # Before the assignment: LAPOR! has no report yet, so the follow-up waits for it.
    await publish_events(infra.kafka_bootstrap, topics.status, [
        events.status_changed(assigned, ComplaintStatus.ACKNOWLEDGED, 1), responded, responded,
        events.escalated(assigned)])
    [dead] = await read_topic(infra.kafka_bootstrap, dead_letter_topic(topics.status, "lapor-sync"),
                              until=lambda r: len(r) >= 1)
    assert dict(dead.headers)["x-consumer"] == b"lapor-sync"
    assert await eventually(lambda: db.fetchval(
        "SELECT attempts >= 1 AND last_error LIKE '%not created yet%' FROM lapor_sync.jobs WHERE job_key = $1",
        f"lapor_status:{responded.change_id}"))
    assert reports_for(lapor_standin, assigned.complaint_id) == []

    await send(infra, topics, assigned)
    assert await eventually(lambda: follow_ups_of(lapor_standin, assigned.complaint_id), timeout=40)
    await publish_events(infra.kafka_bootstrap, topics.status, [done, done])
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) = 2 FROM lapor_sync.jobs WHERE job_key = ANY($1) AND status = 'done'",
        [f"lapor_status:{c.change_id}" for c in (responded, done)]))

    [report] = reports_for(lapor_standin, assigned.complaint_id)
    assert [(f["reference"], f["status"]) for f in report["followups"]] == [
        (responded.change_id, "Ditindaklanjuti"), (done.change_id, "Selesai")]
    assert "Juru parkir sudah ditegur." in report["followups"][0]["text"]
    assert report["status"] == "Selesai"
    # Its own LaporReportLinked, the acknowledgement and the escalation on the same topic made no job.
    kinds = await db.fetch("SELECT kind FROM lapor_sync.jobs WHERE complaint_id = $1", assigned.complaint_id)
    assert sorted(r["kind"] for r in kinds) == ["lapor_create", "lapor_status", "lapor_status"]


async def test_an_overtaken_status_change_never_sets_the_report_back(lapor_sync, lapor_standin, infra, topics, db):
    assigned = events.assigned("Lampu penerangan jalan di Jalan Dhoho mati")
    await send(infra, topics, assigned)
    assert await eventually(lambda: reports_for(lapor_standin, assigned.complaint_id))
    responded = events.status_changed(assigned, ComplaintStatus.RESPONDED, 2, "Sudah dijadwalkan.")
    closed = events.status_changed(assigned, ComplaintStatus.CLOSED, 3)
    await publish_events(infra.kafka_bootstrap, topics.status, [closed])
    assert await eventually(lambda: follow_ups_of(lapor_standin, assigned.complaint_id))
    await publish_events(infra.kafka_bootstrap, topics.status, [responded])  # e.g. a retry that came late
    follow_ups = await eventually(
        lambda: len(follow_ups_of(lapor_standin, assigned.complaint_id)) == 2
        and follow_ups_of(lapor_standin, assigned.complaint_id))
    assert [(f["reference"], f["status"]) for f in follow_ups] == [
        (closed.change_id, "Selesai"), (responded.change_id, "Selesai")]
    assert "Sudah dijadwalkan." in follow_ups[1]["text"]
    [report] = reports_for(lapor_standin, assigned.complaint_id)
    assert report["status"] == "Selesai"
