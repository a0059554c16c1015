"""SIGTERM (what Kubernetes sends on a rolling restart) to each consumer under load: it exits in
time, and after a restart nothing is missing and nothing is doubled."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from standins.smtp_sink import read_maildir
from tests.conftest import fast_retries
from tests.support import events
from tests.support.kafka import eventually, json_values, publish_events, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
GRACE_SECONDS = 45  # terminationGracePeriodSeconds in deploy/k8s


def stop_gracefully(processes, service) -> float:
    started = time.monotonic()
    code = processes.stop(service, signal.SIGTERM, timeout=GRACE_SECONDS)
    took = time.monotonic() - started
    # uvicorn re-raises the signal once its shutdown is complete, so -15 is a clean exit here;
    # the log says whether the shutdown path ran to its end.
    assert code in (0, -signal.SIGTERM), f"{service.name} exited with {code}:\n{service.log()[-2000:]}"
    assert "Application shutdown complete" in service.log(), service.log()[-2000:]
    assert took < GRACE_SECONDS
    return took


async def test_router_sigterm_under_load(processes, infra, topics, db):
    batch = [events.received(f"Aduan {n}: petugas minta imbalan", message_id=f"term-r-{topics.prefix}{n}")
             for n in range(800)]
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT")
    await publish_events(infra.kafka_bootstrap, topics.received, batch)
    ids = [e.complaint_id for e in batch]
    at_stop = await eventually(lambda: db.fetchval(
        "SELECT count(*) FROM router.assignments WHERE complaint_id = ANY($1::uuid[]) HAVING count(*) >= 150", ids),
        timeout=60, interval=0.02)
    took = stop_gracefully(processes, router)
    processes.start("router", "services.router", "ADUAN_ROUTER_PORT")
    records = await read_topic(infra.kafka_bootstrap, topics.assigned,
                               until=lambda r: set(ids) <= {v["complaint_id"] for v in json_values(r)}, timeout=120)
    published = json_values(records)
    assert set(ids) <= {v["complaint_id"] for v in published}
    rows = await db.fetchval("SELECT count(*) FROM router.assignments WHERE complaint_id = ANY($1::uuid[])", ids)
    decisions = {(v["complaint_id"], v["event_id"]) for v in published}
    assert rows == 800 and len(decisions) == 800 and at_stop < 800
    print(f"router SIGTERM at {at_stop} stored, exited in {took:.1f}s: 800 assigned once, "
          f"{len(published) - 800} events republished")


async def test_notifier_sigterm_under_load(processes, smtp_server, infra, topics, db):
    port, maildir = smtp_server
    env = {"ADUAN_NOTIFIER_SMTP_PORT": str(port), **fast_retries("ADUAN_NOTIFIER_")}
    notifier = processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", env)
    batch = [events.assigned(f"Aduan {n} jalan rusak", message_id=f"term-n-{topics.prefix}{n}") for n in range(300)]
    await publish_events(infra.kafka_bootstrap, topics.assigned, batch)
    keys = [f"unit_email:{a.assignment_id}" for a in batch]
    at_stop = await eventually(lambda: db.fetchval(
        "SELECT count(*) FROM notifier.jobs WHERE job_key = ANY($1) AND status = 'done' HAVING count(*) >= 60", keys),
        timeout=60, interval=0.02)
    took = stop_gracefully(processes, notifier)
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", env)
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) = 300 FROM notifier.jobs WHERE job_key = ANY($1) AND status = 'done'", keys), timeout=120)
    ids = {a.assignment_id for a in batch}
    mails = [m["X-Aduan-Assignment-Id"] for m in read_maildir(maildir) if m["X-Aduan-Assignment-Id"] in ids]
    assert sorted(mails) == sorted(ids), f"{len(mails)} mails for 300 assignments"  # none twice, none missing
    print(f"notifier SIGTERM at {at_stop} done, exited in {took:.1f}s: 300 mails, each once")


async def test_lapor_sync_sigterm_under_load(processes, lapor_standin, infra, topics, db):
    env = {"ADUAN_LAPOR_SYNC_LAPOR_BASE_URL": lapor_standin.url, **fast_retries("ADUAN_LAPOR_SYNC_")}
    worker = processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT", env)
    batch = [events.assigned(f"Aduan {n} pajak parkir", message_id=f"term-l-{topics.prefix}{n}") for n in range(300)]
    await publish_events(infra.kafka_bootstrap, topics.assigned, batch)
    ids = [a.complaint_id for a in batch]
    at_stop = await eventually(lambda: db.fetchval(
        "SELECT count(*) FROM lapor_sync.reports WHERE complaint_id = ANY($1::uuid[]) HAVING count(*) >= 50", ids),
        timeout=60, interval=0.02)
    took = stop_gracefully(processes, worker)
    processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT", env)
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) = 300 FROM lapor_sync.reports WHERE complaint_id = ANY($1::uuid[])", ids), timeout=120)
    items = httpx.get(f"{lapor_standin.url}/api/v1/reports",
                      headers={"Authorization": "Bearer local-standin-token"}).json()["items"]
    held = [i["reference"] for i in items if i["reference"] in set(ids)]
    assert sorted(held) == sorted(ids)
    print(f"lapor_sync SIGTERM at {at_stop} stored, exited in {took:.1f}s: 300 reports, each once")
