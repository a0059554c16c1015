"""The fault suite (`make chaos`): 5,000 complaints flow through the real system while the router is
SIGKILLed three times, PostgreSQL is restarted once and the Kafka broker is restarted once, at
seeded random moments. At the end: every complaint has exactly one assignment, every assignment
exactly one unit e-mail, and LAPOR! exactly one report per complaint. docs/reliability.md explains
each assertion.

The suite runs on a Kafka and a PostgreSQL of its own (tests/chaos/stack.py), never on the shared
ones. Complaints are published straight to complaints.received.v1, as an intake does once it has
accepted one: the HTTP intakes are not the subject here (their outage behaviour, 503 and
Retry-After, has its own tests).
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import json
import logging
import os
import random
import shutil
import signal
import time
from email.parser import BytesHeaderParser
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.contracts import ComplaintReceived, Reporter
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.chaos.stack import STATE_DIR, Feeder, OwnInfra, wait_for_port
from tests.conftest import fast_retries
from tests.support.kafka import end_offsets, json_values, read_topic
from tests.support.processes import REPO, Processes

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(420)]

COMPLAINTS = int(os.environ.get("ADUAN_CHAOS_COMPLAINTS", "5000"))
FEED_SECONDS = float(os.environ.get("ADUAN_CHAOS_FEED_SECONDS", "90"))  # complaints arrive over this long
ROUTER_KILLS = 3
FAULT_WINDOW = (0.05, 0.65)  # faults fire between these shares of the complaints published
TAIL = 0.1  # the last tenth of the complaints is published only once every fault is over
MIN_GAP_SECONDS = 3.0  # between the end of one fault and the start of the next: separate faults
BUSY_WAIT_SECONDS = 15.0  # a fault waits at most this long for work in progress where it strikes (below)
DELIVERY_BACKLOG = 10  # a database or broker restart waits until this many deliveries are under way
PG_DOWN_SECONDS = 3.0  # PostgreSQL stays stopped this long before it starts again
# "term": kafka.sh stop (SIGTERM, controlled shutdown; SIGKILL after 30 s); "kill": SIGKILL at once.
KAFKA_STOP = os.environ.get("ADUAN_CHAOS_KAFKA_STOP", "term")
DRAIN_TIMEOUT_SECONDS = 200.0
SETTLE_SECONDS = 3.0  # after everything is done: time for a late duplicate to show up
MAIL_DOMAIN = "aduan.kedirikota.go.id"  # the notifier's default Message-ID domain
LAPOR_TOKEN = {"Authorization": "Bearer local-standin-token"}

# Texts for every unit of the shipped rules (inspektorat, diskominfo, bppkad, prokopim, hukum) and one that
# no rule claims (the fallback unit), so every unit gets mail.
TEXTS = ["Petugas loket minta imbalan 100rb untuk tanda tangan surat", "Hotspot wifi di alun-alun lemot",
         "Denda pajak hotel dihitung salah", "Undangan untuk wali kota menghadiri acara",
         "Sengketa tanah warisan perlu bantuan hukum", "Pohon tumbang di jalan"]


@pytest.fixture(autouse=True)
def quiet_test_side_kafka_client():
    # The feeder's producer logs every refused connection while the broker is restarted: expected here.
    logger = logging.getLogger("aiokafka")
    level, logger.level = logger.level, logging.CRITICAL
    yield
    logger.setLevel(level)


@pytest.fixture
async def own_infra():
    # One fault suite at a time per state dir: a second one would reset the first one's broker and database.
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / ".suite.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.fail(f"another fault suite is running with the state dir {STATE_DIR}")
        infra = OwnInfra(STATE_DIR)
        print(f"\nchaos: own Kafka on {infra.kafka_bootstrap} (controller {infra.controller_port}), "
              f"own PostgreSQL on 127.0.0.1:{infra.pg_port}, state in {infra.state_dir}")
        try:
            await infra.start()
            yield infra
        finally:
            await infra.stop()


def complaints(run: str, rng: random.Random) -> list[ComplaintReceived]:
    # Web complaints whose reporter gave no e-mail address: no citizen acknowledgement is sent, so
    # every mail the SMTP stand-in holds is a unit's notification.
    return [ComplaintReceived.new(channel="web", channel_message_id=f"chaos-{run}-{n}", producer="chaos",
                                  text=f"{rng.choice(TEXTS)} (aduan {n})",
                                  reporter=Reporter(name="Warga Kediri", phone="+6281234567890"))
            for n in range(COMPLAINTS)]


class Probe:
    """Counts read from the services' own tables; None while PostgreSQL is down."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def fetch(self, query: str, *args) -> list:
        conn = await asyncpg.connect(self.database_url, timeout=5)
        try:
            return await conn.fetch(query, *args, timeout=30)
        finally:
            await conn.close()

    async def reached(self, assigned: int, timeout: float) -> bool:
        """Whether the router has stored `assigned` assignments within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                [row] = await self.fetch("SELECT count(*) >= $1 AS reached FROM router.assignments", assigned)
                if row["reached"]:
                    return True
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass
            await asyncio.sleep(0.05)
        return False

    async def deliveries_in_flight(self, backlog: int, timeout: float) -> bool:
        """Whether, within `timeout` seconds, `backlog` assignments wait for their mail or LAPOR! report."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = await self.counts()
            if None not in n.values() and n["assigned"] - min(n["mailed"], n["reported"]) >= backlog:
                return True
            await asyncio.sleep(0.05)
        return False

    async def counts(self) -> dict[str, int | None]:
        try:
            [row] = await self.fetch(
                """SELECT (SELECT count(*) FROM router.assignments) AS assigned,
                          (SELECT count(*) FROM notifier.jobs WHERE kind = 'unit_email' AND status = 'done') AS mailed,
                          (SELECT count(*) FROM lapor_sync.reports) AS reported""")
            return dict(row)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return {"assigned": None, "mailed": None, "reported": None}


def mail_files(maildir: Path) -> list[Path]:
    return [p for sub in ("new", "cur") for p in (maildir / sub).glob("*") if p.is_file()]


async def test_router_kills_and_database_and_broker_restarts_while_5000_complaints_flow(own_infra: OwnInfra):
    seed = int(os.environ.get("ADUAN_CHAOS_SEED") or random.SystemRandom().randrange(1, 1_000_000))
    print(f"chaos: seed={seed} (the same fault moments again: ADUAN_CHAOS_SEED={seed} make chaos)")
    rng = random.Random(seed)
    run = f"{seed}-{time.time_ns()}"
    batch = complaints(run, rng)
    ids = {e.complaint_id for e in batch}

    topics = Topics("chaos.")
    await create_topics(KafkaSettings(bootstrap_servers=own_infra.kafka_bootstrap), topics)
    logs, maildir = STATE_DIR / "logs", STATE_DIR / "mail"
    shutil.rmtree(logs, ignore_errors=True)
    shutil.rmtree(maildir, ignore_errors=True)
    logs.mkdir(parents=True)
    print(f"chaos: service logs in {logs}, mail in {maildir}")

    procs = Processes(env={"ADUAN_KAFKA_BOOTSTRAP_SERVERS": own_infra.kafka_bootstrap,
                           "ADUAN_KAFKA_TOPIC_PREFIX": topics.prefix, "ADUAN_DB_URL": own_infra.database_url},
                      log_dir=logs)
    probe = Probe(own_infra.database_url)
    fault_log: list[str] = []
    try:
        smtp = procs.start("smtp-standin", "standins.smtp_sink", "ADUAN_SMTP_SINK_PORT",
                           {"ADUAN_SMTP_SINK_MAILDIR": str(maildir)}, ready_path=None)
        lapor = procs.start("lapor-standin", "standins.lapor", "ADUAN_LAPOR_STANDIN_PORT", ready_path="/openapi.json")
        await wait_for_port(smtp.port)
        # The rule files as they are now, copied: an edit in the working tree during the run changes nothing.
        for source in (REPO / "services" / "router" / "rules.yaml", REPO / "shared" / "units.yaml"):
            shutil.copy(source, STATE_DIR / source.name)
        router_env = {"ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "1",
                      "ADUAN_ROUTER_RULES_FILE": str(STATE_DIR / "rules.yaml"),
                      "ADUAN_ROUTER_UNITS_FILE": str(STATE_DIR / "units.yaml")}
        services = {
            "router": procs.start("router-1", "services.router", "ADUAN_ROUTER_PORT", router_env),
            "notifier": procs.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT",
                                    {"ADUAN_NOTIFIER_SMTP_PORT": str(smtp.port), **fast_retries("ADUAN_NOTIFIER_")}),
            "lapor_sync": procs.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT",
                                      {"ADUAN_LAPOR_SYNC_LAPOR_BASE_URL": lapor.url,
                                       "ADUAN_LAPOR_SYNC_CIRCUIT_OPEN_SECONDS": "1",
                                       **fast_retries("ADUAN_LAPOR_SYNC_")}),
        }

        # Each fault fires at a seeded-random point of the stream (once the feeder has published that many
        # complaints), plus a random 0-1 s so a kill lands anywhere in the router's batch cycle. Each one
        # also waits (up to BUSY_WAIT_SECONDS) for work where it strikes: a router kill until the router
        # routes again after the previous fault (a SIGKILLed consumer's partitions are only handed on when
        # its session times out, 10 s); a PostgreSQL or Kafka restart until deliveries are under way.
        faults = ["router_kill"] * ROUTER_KILLS + ["pg_restart", "kafka_restart"]
        rng.shuffle(faults)
        thresholds = sorted(rng.sample(range(int(FAULT_WINDOW[0] * COMPLAINTS), int(FAULT_WINDOW[1] * COMPLAINTS)),
                                       len(faults)))
        delays = [rng.uniform(0, 1) for _ in faults]
        print("chaos: plan " + ", ".join(f"{f} once {n} are published (+{d:.2f}s)"
                                         for f, n, d in zip(faults, thresholds, delays, strict=True)))

        # The tail is held back until every fault is over: however long the faults take, each one meets
        # complaints still to come, and the tail shows the system flowing as usual afterwards.
        feeder = Feeder(own_infra.kafka_bootstrap, topics.received, batch, FEED_SECONDS,
                        hold_from=int((1 - TAIL) * COMPLAINTS))
        t0 = time.monotonic()
        feeding = asyncio.create_task(feeder.run())
        counted = collections.Counter()
        at_fault: dict[str, list] = collections.defaultdict(list)
        free_at, assigned_after_last = t0, 0
        for fault, threshold, delay in zip(faults, thresholds, delays, strict=True):
            await asyncio.sleep(max(0.0, free_at - time.monotonic()))
            while feeder.acknowledged < threshold:
                if feeding.done():
                    feeding.result()  # the feeder failed: its error
                await asyncio.sleep(0.05)
            if fault == "router_kill":
                await probe.reached(assigned_after_last + 1, timeout=BUSY_WAIT_SECONDS)
            else:
                await probe.deliveries_in_flight(DELIVERY_BACKLOG, timeout=BUSY_WAIT_SECONDS)
            await asyncio.sleep(delay)
            progress = {"published": feeder.acknowledged, **await probe.counts()}
            began = time.monotonic() - t0
            detail = ""
            if fault == "router_kill":
                procs.stop(services["router"], signal.SIGKILL)
                counted[fault] += 1
                services["router"] = await asyncio.to_thread(
                    procs.start, f"router-{counted[fault] + 1}", "services.router", "ADUAN_ROUTER_PORT", router_env)
            elif fault == "pg_restart":
                stop = await own_infra.script("postgres", "stop")
                await asyncio.sleep(PG_DOWN_SECONDS)
                start = await own_infra.script("postgres", "start")
                counted[fault] += 1
                detail = f" (stop {stop:.1f}s, down {PG_DOWN_SECONDS:.0f}s, start {start:.1f}s)"
            else:
                if KAFKA_STOP == "kill":
                    pid = int((own_infra.state_dir / "kafka" / "kafka.pid").read_text())
                    os.kill(pid, signal.SIGKILL)
                    await asyncio.sleep(0.5)
                stop = await own_infra.script("kafka", "stop")  # after a SIGKILL: only tidies the pid file
                start = await own_infra.script("kafka", "start")
                counted[fault] += 1
                detail = f" ({KAFKA_STOP}: stop {stop:.1f}s, start {start:.1f}s)"
            ended = time.monotonic() - t0
            free_at = t0 + ended + MIN_GAP_SECONDS
            assigned_after_last = (await probe.counts())["assigned"] or assigned_after_last
            at_fault[fault].append(progress)
            line = (f"t={began:6.1f}s {fault} #{counted[fault]} took {ended - began:.1f}s{detail}; at its start: "
                    f"published {progress['published']}, assigned {progress['assigned']}, mailed {progress['mailed']}, "
                    f"in LAPOR! {progress['reported']}")
            fault_log.append(line)
            print("chaos: " + line)

        feeder.release.set()
        await asyncio.wait_for(feeding, timeout=FEED_SECONDS + 120)
        fed_at = time.monotonic()
        print(f"chaos: all {COMPLAINTS} complaints acknowledged by the broker at t={fed_at - t0:.1f}s "
              f"({feeder.resent} sent again after {len(feeder.errors)} unacknowledged attempts)")

        async def drained() -> dict:
            while True:
                progress = await probe.counts()
                done = all(v == COMPLAINTS for v in progress.values()) and len(mail_files(maildir)) >= COMPLAINTS
                if done or time.monotonic() - fed_at > DRAIN_TIMEOUT_SECONDS:
                    return progress
                await asyncio.sleep(0.5)

        final_progress = await drained()
        drain_seconds = time.monotonic() - fed_at
        total_seconds = time.monotonic() - t0
        print(f"chaos: drained {final_progress} {drain_seconds:.1f}s after the last complaint was published")
        await asyncio.sleep(SETTLE_SECONDS)

        # --- what the system holds now -------------------------------------------------------------
        assignment_rows = await probe.fetch("SELECT complaint_id::text AS complaint_id, assignment_id::text AS "
                                            "assignment_id, event FROM router.assignments")
        per_complaint = collections.Counter(r["complaint_id"] for r in assignment_rows)
        unit_of = {r["assignment_id"]: json.loads(r["event"])["unit"]["email"] for r in assignment_rows}
        stored_complaints = {r["complaint_id"] for r in await probe.fetch(
            "SELECT complaint_id::text AS complaint_id FROM router.complaints")}

        # The decision, as published: one (assignment_id, event_id) per complaint however often it was republished.
        published = sum((await end_offsets(own_infra.kafka_bootstrap, topics.assigned)).values())
        records = json_values(await read_topic(own_infra.kafka_bootstrap, topics.assigned,
                                               until=lambda r: len(r) >= published, timeout=60))
        decisions = collections.defaultdict(set)
        for value in records:
            decisions[value["complaint_id"]].add((value["assignment_id"], value["event_id"]))

        jobs = await probe.fetch("SELECT job_key, kind, status, attempts FROM notifier.jobs")
        unit_jobs = collections.Counter(j["job_key"].split(":", 1)[1] for j in jobs if j["kind"] == "unit_email")
        jobs_not_done = [j["job_key"] for j in jobs if j["status"] != "done"]
        other_jobs = [j["job_key"] for j in jobs if j["kind"] != "unit_email"]

        parser = BytesHeaderParser()
        mails = collections.defaultdict(list)  # Message-ID -> recipients of each file that carries it
        for path in mail_files(maildir):
            with path.open("rb") as handle:
                headers = parser.parse(handle)
            # A long Message-ID is folded onto its own line: compare it without the folding whitespace.
            mails["".join(str(headers["Message-ID"]).split())].append(str(headers["To"]).strip())
        expected_message_ids = {f"<{a}.unit_email@{MAIL_DOMAIN}>": a for a in unit_of}

        lapor_items = httpx.get(f"{lapor.url}/api/v1/reports", headers=LAPOR_TOKEN, timeout=60).json()["items"]
        lapor_per_reference = collections.Counter(item["reference"] for item in lapor_items)
        lapor_rows = await probe.fetch("SELECT complaint_id::text AS complaint_id, lapor_tracking_id"
                                       " FROM lapor_sync.reports")
        tracking_of = {item["reference"]: item["tracking_id"] for item in lapor_items}
        # 409 = lapor_sync asked LAPOR! to create a report LAPOR! already had. The contract makes that
        # harmless, but lapor_sync looks up by reference before it creates, so it should never happen;
        # against a LAPOR! that did not check references it would have been a second report.
        second_creates = lapor.log().count('"POST /api/v1/reports HTTP/1.1" 409')

        # --- the counts -------------------------------------------------------------------------------
        missing_assignments = ids - set(per_complaint)
        duplicate_assignments = sum(n - 1 for n in per_complaint.values())
        second_decisions = sum(len(d) - 1 for d in decisions.values())
        missing_mails = [m for m in expected_message_ids if m not in mails]
        duplicate_notifications = sum(len(to) - 1 for to in mails.values())
        wrong_recipient = [m for m, a in expected_message_ids.items() if m in mails
                           and any(to != unit_of[a] for to in mails[m])]
        stray_mails = [m for m in mails if m not in expected_message_ids]
        missing_jobs = set(unit_of) - set(unit_jobs)
        missing_lapor = ids - set(lapor_per_reference)
        duplicate_lapor = sum(n - 1 for n in lapor_per_reference.values())
        missing = len(missing_assignments) + len(missing_mails) + len(missing_lapor)
        alive = {name: s.process.poll() is None for name, s in {**services, "smtp": smtp, "lapor": lapor}.items()}

        print("chaos: faults:\n  " + "\n  ".join(fault_log))
        print(f"chaos: router: {len(stored_complaints)} complaints stored, {len(assignment_rows)} assignments, "
              f"{len(records)} ComplaintAssigned events published ({len(records) - len(assignment_rows)} republished)")
        print(f"chaos: notifier: {len(unit_jobs)} unit_email jobs, {len(jobs_not_done)} not done, "
              f"{sum(len(v) for v in mails.values())} mail files for {len(mails)} Message-IDs, "
              f"max attempts of a job {max((j['attempts'] for j in jobs), default=0)}")
        per_unit = collections.Counter(to for recipients in mails.values() for to in recipients)
        print("chaos: mail files per unit: " + ", ".join(f"{u} {n}" for u, n in sorted(per_unit.items())))
        print(f"chaos: LAPOR!: {len(lapor_items)} reports held, {len(lapor_rows)} stored by lapor_sync, "
              f"{second_creates} second create requests (409)")
        print(f"chaos_complaints={COMPLAINTS} router_kills={counted['router_kill']} "
              f"pg_restarts={counted['pg_restart']} kafka_restarts={counted['kafka_restart']} "
              f"duplicate_assignments={duplicate_assignments} "
              f"duplicate_notifications={duplicate_notifications} duplicate_lapor_reports={duplicate_lapor} "
              f"missing={missing} seconds={total_seconds:.0f} drain_seconds={drain_seconds:.0f} seed={seed}")

        # --- the assertions ----------------------------------------------------------------------------
        assert counted == {"router_kill": ROUTER_KILLS, "pg_restart": 1, "kafka_restart": 1}
        assert all(p["assigned"] is None or p["assigned"] < COMPLAINTS for p in at_fault["router_kill"]), \
            f"a router kill came after the routing was done: {at_fault['router_kill']}"
        assert all(alive.values()), f"a process died: {alive}"
        # Router: every complaint stored, decided once, published with that one decision.
        assert stored_complaints == ids and not missing_assignments, f"{len(missing_assignments)} never assigned"
        assert duplicate_assignments == 0 and set(per_complaint.values()) == {1}
        assert second_decisions == 0, "a complaint was decided twice (two assignment or event ids)"
        assert ids <= set(decisions), "an assignment was stored but never published"
        # Notifier: one delivery record per assignment, done; one mail per Message-ID, to the assigned unit.
        assert not missing_jobs and set(unit_jobs.values()) == {1} and not other_jobs, (missing_jobs, other_jobs)
        assert not jobs_not_done, f"{len(jobs_not_done)} deliveries not done, e.g. {jobs_not_done[:3]}"
        assert not missing_mails, f"{len(missing_mails)} assignments without a mail"
        assert duplicate_notifications == 0, (
            f"{duplicate_notifications} mails sent twice: "
            f"{[(m, len(to)) for m, to in mails.items() if len(to) > 1][:5]}")
        assert not wrong_recipient and not stray_mails, (wrong_recipient[:3], stray_mails[:3])
        # LAPOR!: one report per complaint, and lapor_sync stored the one LAPOR! holds.
        assert not missing_lapor and duplicate_lapor == 0 and set(lapor_per_reference) == ids
        assert second_creates == 0, f"lapor_sync asked LAPOR! {second_creates} times for a report it already had"
        assert len(lapor_rows) == COMPLAINTS and all(tracking_of[r["complaint_id"]] == r["lapor_tracking_id"]
                                                     for r in lapor_rows)
    finally:
        procs.stop_all()
