"""End-to-end latency at a steady offered load through the HTTP intakes; each service's peak RSS.

    python -m bench.e2e_latency [--rate 200] [--seconds 60] [--drain-seconds 600] [--concurrency 128]

(or BENCH_E2E_RATE, BENCH_E2E_SECONDS, BENCH_E2E_DRAIN_SECONDS, BENCH_E2E_CONCURRENCY)

Needs Kafka and PostgreSQL (`make infra`). Starts every service and stand-in as its own process,
as `make run` does, on topics under a fresh prefix and a fresh database (both deleted at the
end), on free ports. Offers `rate` complaints/s for `seconds`, open loop: each request is sent at
its scheduled time whatever the answers before it (at most `concurrency` in flight; a request
waiting for a slot counts that wait in its HTTP latency; what is unanswered 30 s after the last
one was due is cancelled and counted), a third each to the web JSON API, the SMS generic signed
webhook and the signed WhatsApp Cloud webhook, with the labelled Indonesian complaints of
tests/data/.

Latency of a complaint starts when the intake accepted it: the timestamp of its record in
complaints.received.v1, set by the intake's producer when it hands the event to Kafka (the 2xx
follows once Kafka acknowledged it). Not the client's time of the 2xx: on a starved machine a
response can reach the load generator after the router already stored the complaint. Not the
event's received_at: WhatsApp's is Meta's timestamp, in whole seconds. It ends at the router's
assignments.assigned_at (its transaction's now()), the notifier's unit_email job done_at, and
lapor_sync's lapor_create job done_at: one host, one clock. The database is read after the
load, until every complaint is through or `drain-seconds` passed; the topic is read then too.

Baseline, same run, before the services start: the same schedule through a bare aiokafka hop
(acks=all idempotent producer, at most `concurrency` waiting for their acknowledgement ->
consumer group committing each batch), from the record's timestamp to the consumer having it:
the floor of "accepted -> a consumer has it".

Peak RSS is VmHWM from /proc/<pid>/status, read just before each process is stopped.
Last line: `e2e_rate=... e2e_assign_p50_ms=... e2e_assign_p99_ms=... e2e_notify_p99_ms=...
baseline_p99_ms=... rss_max_mib=...` and a few more keys.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import os
import platform
import shutil
import signal
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.scratch import create_database, delete_topics, drop_database
from shared.contracts import Channel, ComplaintReceived, Reporter, complaint_id_for, tracking_code_for
from shared.kafka import client_options
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import PARTITIONS, Topics, create_topics
from tests.support.kafka import login
from tests.support.processes import Processes, Service

REPO = Path(__file__).resolve().parents[1]
SMS_SECRET = "bench-gateway-secret"
WHATSAPP_SECRET = "bench-app-secret"
INBOX_SECRET = "bench-inbox-secret"
SERVICES = ("router", "notifier", "lapor_sync", "web", "sms", "whatsapp")  # the rest are stand-ins
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- load

def complaint_texts() -> list[str]:
    """The labelled complaints of tests/data without the SMS keyword (added back for SMS only)."""
    texts = []
    for path in sorted((REPO / "tests" / "data").glob("routing-*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                text = json.loads(line)["text"].strip()
                texts.append(text[5:].lstrip(" :.") if text.lower().startswith("surga") else text)
    return texts


@dataclass
class Request:
    channel: str
    url: str
    body: bytes
    headers: dict[str, str]


class Requests:
    """The n-th complaint of the run as an HTTP request to its channel's intake."""

    def __init__(self, urls: dict[str, str], run: str) -> None:
        self.urls, self.run, self.texts = urls, run, complaint_texts()

    def phone(self, n: int) -> str:
        return f"0812{(n * 7919) % 10**8:08d}"

    def __call__(self, n: int) -> Request:
        text = self.texts[n % len(self.texts)]
        channel = (Channel.WEB, Channel.SMS, Channel.WHATSAPP)[n % 3]
        if channel == Channel.WEB:
            # Half leave an e-mail address (the citizen gets an acknowledgement), some stay anonymous.
            form = {"text": text, "anonymity": ("none", "anonim", "rahasia")[n % 5 % 3]}
            if n % 2:
                form |= {"name": "Warga Kediri", "phone": self.phone(n), "email": f"warga{n}@example.id"}
            return Request(channel, f"{self.urls['web']}/api/v1/complaints", json.dumps(form).encode(),
                           {"Content-Type": "application/json", "Idempotency-Key": f"{self.run}-{n}"})
        if channel == Channel.SMS:
            body = json.dumps({"message_id": f"{self.run}-{n}", "sender": self.phone(n), "receiver": "1708",
                               "text": f"SURGA {text}"}).encode()
            timestamp = str(int(time.time()))
            signature = hmac.new(SMS_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            return Request(channel, f"{self.urls['sms']}/api/v1/sms/inbound", body,
                           {"Content-Type": "application/json", "X-Timestamp": timestamp,
                            "X-Signature": f"sha256={signature}"})
        sender = "62" + self.phone(n)[1:]
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "6281100001708", "phone_number_id": "106540352242922"},
                "contacts": [{"profile": {"name": "Warga"}, "wa_id": sender}],
                "messages": [{"from": sender, "id": f"wamid.{self.run}.{n}", "timestamp": str(int(time.time())),
                              "type": "text", "text": {"body": text}}]}}]}]}).encode()
        signature = hmac.new(WHATSAPP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return Request(channel, f"{self.urls['whatsapp']}/webhook", body,
                       {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"})


def tracking_code(request: Request, answer: dict) -> str:
    if request.channel == Channel.WHATSAPP:
        return answer["accepted"][0]
    if answer.get("queued"):  # an SMS kept for the relay (the intake was busy): its code follows from its id
        message_id = json.loads(request.body)["message_id"]
        return tracking_code_for(complaint_id_for(Channel.SMS, f"generic:{message_id}"))
    return answer["tracking_code"]


@dataclass
class Offered:
    started: float  # wall clock of the first scheduled send
    sent: int = 0
    accepted: list[str] = field(default_factory=list)  # tracking codes
    http_ms: list[float] = field(default_factory=list)  # scheduled send -> answer, accepted ones
    answer_ms: list[float] = field(default_factory=list)  # scheduled send -> any HTTP answer (2xx, 503...)
    queued: int = 0  # SMS kept and answered "queued" (handled by the intake's relay)
    by_channel: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # "web 503", "sms ConnectTimeout"...
    unanswered: int = 0  # cancelled at the end: waiting for a slot, or for their answer
    last_answer: float = 0.0

    @property
    def non_2xx(self) -> int:
        return sum(self.refused.values())


async def schedule(rate: float, seconds: float, send_one, grace: float) -> tuple[float, int]:
    """Calls send_one(n, due) at due = start + n / rate, without waiting for earlier ones (open loop);
    a late loop catches up by sending at once what is due. What is not done `grace` s after the last
    one was due is cancelled: a system slower than the offered rate must not stretch the run without
    bound. Returns the wall clock of the start and how many were cancelled."""
    total = int(rate * seconds)
    started_wall, started = time.time(), time.perf_counter()
    tasks = []
    for n in range(total):
        due = started + n / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send_one(n, due)))
    done, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()  # a bug in send_one surfaces here, not as a silently missing request
    return started_wall, len(pending)


async def offer(requests: Requests, rate: float, seconds: float, concurrency: int, grace: float = 30) -> Offered:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    offered = Offered(started=time.time())
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def send_one(n: int, due: float) -> None:
            request = requests(n)
            async with gate:
                offered.sent += 1
                try:
                    answer = await client.post(request.url, content=request.body, headers=request.headers)
                except httpx.HTTPError as error:
                    key = f"{request.channel} {type(error).__name__}"
                    offered.refused[key] = offered.refused.get(key, 0) + 1
                    return
            offered.last_answer = max(offered.last_answer, time.time())
            offered.answer_ms.append((time.perf_counter() - due) * 1000)
            if answer.is_success:
                offered.queued += bool(answer.json().get("queued"))
                offered.accepted.append(tracking_code(request, answer.json()))
                offered.http_ms.append((time.perf_counter() - due) * 1000)
                offered.by_channel[request.channel] = offered.by_channel.get(request.channel, 0) + 1
            else:
                key = f"{request.channel} {answer.status_code}"
                offered.refused[key] = offered.refused.get(key, 0) + 1

        offered.started, offered.unanswered = await schedule(rate, seconds, send_one, grace)
    return offered


# ---------------------------------------------------------------- baseline

async def bare_hop(bootstrap: str, topic: str, rate: float, seconds: float, concurrency: int) -> list[float]:
    """Milliseconds from the record's timestamp (the producer's send) to the consumer having it, per record."""
    payload = ComplaintReceived.new(channel=Channel.WEB, channel_message_id="bench-hop", producer="bench",
                                    text=complaint_texts()[0], reporter=Reporter(phone="+6281234567890"),
                                    ).model_dump_json().encode()  # the size of a real event
    total = int(rate * seconds)
    latencies: list[float] = []
    producer = AIOKafkaProducer(**login(bootstrap), acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(topic, **login(bootstrap), group_id=f"bench-hop-{uuid.uuid4().hex[:8]}",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await producer.start()
    try:
        # One record per partition first: a topic created moments ago may still be electing leaders.
        for partition in range(PARTITIONS):
            await producer.send_and_wait(topic, b"warm-up", partition=partition)
        await consumer.start()
        deadline = time.monotonic() + 60
        while not consumer.assignment():  # joined the group: the join is not part of the hop
            if time.monotonic() > deadline:
                raise RuntimeError("bare hop consumer got no partitions in 60 s")
            await consumer.getmany(timeout_ms=200)

        async def consume() -> None:
            while len(latencies) < total:
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                now = time.time()
                latencies.extend(now * 1000 - record.timestamp for records in batch.values() for record in records
                                 if record.value != b"warm-up")
                if batch:
                    await consumer.commit()

        gate = asyncio.Semaphore(concurrency)

        async def produce_one(_n: int, _due: float) -> None:
            async with gate:  # as an intake: the request waits for the acknowledgement
                await (await producer.send(topic, payload, key=uuid.uuid4().bytes))

        consuming = asyncio.create_task(consume())
        _, unacknowledged = await schedule(rate, seconds, produce_one, grace=30)
        if unacknowledged:
            raise RuntimeError(f"bare hop: {unacknowledged} records not acknowledged by Kafka in 30 s")
        await asyncio.wait_for(consuming, 60)
    finally:
        await consumer.stop()
        await producer.stop()
    return latencies


async def publish_times(bootstrap: str, topic: str) -> dict[str, float]:
    """complaint_id (the record key) -> the record's timestamp in s, for every record of the topic."""
    consumer = AIOKafkaConsumer(**login(bootstrap), enable_auto_commit=False)  # no group
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends, times = await consumer.end_offsets(partitions), {}
        deadline = time.monotonic() + 120

        async def behind() -> bool:
            return any([await consumer.position(p) < ends[p] for p in partitions])

        while await behind() and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=2000)).values():
                times.update((record.key.decode(), record.timestamp / 1000) for record in records)
        return times
    finally:
        await consumer.stop()


# ---------------------------------------------------------------- the system

def wait_for_port(port: int, process: Service, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.log()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} not listening on {port} after {timeout} s")


def start_system(procs: Processes, maildir: Path, log_level: str) -> dict[str, Service]:
    def standin(name: str, module: str, port_env: str) -> Service:
        return procs.start(name, module, port_env, ready_path="/openapi.json")

    smtp = procs.start("smtp_sink", "standins.smtp_sink", "ADUAN_SMTP_SINK_PORT",
                       {"ADUAN_SMTP_SINK_MAILDIR": str(maildir)}, ready_path=None)
    wait_for_port(smtp.port, smtp)
    lapor = standin("lapor_standin", "standins.lapor", "ADUAN_LAPOR_STANDIN_PORT")
    sms_gw = standin("sms_gateway", "standins.sms_gateway", "ADUAN_SMS_STANDIN_PORT")
    wa_cloud = standin("whatsapp_cloud", "standins.whatsapp_cloud", "ADUAN_WHATSAPP_STANDIN_PORT")
    procs.env.update({f"ADUAN_{name.upper()}_LOG_LEVEL": log_level for name in SERVICES})
    # As `make run`: unit mails carry a signed link into the router's unit inbox.
    procs.env.update({"ADUAN_ROUTER_INBOX_SECRET": INBOX_SECRET, "ADUAN_NOTIFIER_INBOX_SECRET": INBOX_SECRET})
    return {
        "router": procs.start("router", "services.router", "ADUAN_ROUTER_PORT",
                              {"ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"bench": "bench-operator-token"})}),
        "notifier": procs.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
            "ADUAN_NOTIFIER_SMTP_PORT": str(smtp.port),
            "ADUAN_NOTIFIER_SMS_GATEWAYS": "[\"generic\"]",  # the signed HTTP gateway, as the SMS come in through it
            "ADUAN_NOTIFIER_GENERIC_SMS_URL": f"{sms_gw.url}/api/v1/messages",
            "ADUAN_NOTIFIER_WHATSAPP_API_URL": f"{wa_cloud.url}/v21.0"}),
        "lapor_sync": procs.start("lapor_sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT",
                                  {"ADUAN_LAPOR_SYNC_LAPOR_BASE_URL": lapor.url}),
        # No per-client limit: every request comes from this one client address.
        "web": procs.start("web", "services.intake.web", "ADUAN_WEB_PORT", {
            "ADUAN_WEB_SUBMISSIONS_PER_MINUTE": "100000000", "ADUAN_WEB_SUBMISSIONS_BURST": "100000000"}),
        "sms": procs.start("sms", "services.intake.sms", "ADUAN_SMS_PORT", {"ADUAN_SMS_GATEWAY_SECRET": SMS_SECRET}),
        "whatsapp": procs.start("whatsapp", "services.intake.whatsapp", "ADUAN_WHATSAPP_PORT",
                                {"ADUAN_WHATSAPP_APP_SECRET": WHATSAPP_SECRET}),
    }


_FOLLOWED = """
    FROM router.complaints c
    JOIN router.assignments a ON a.complaint_id = c.complaint_id AND a.sequence = 1
    LEFT JOIN notifier.jobs n ON n.job_key = 'unit_email:' || a.assignment_id AND n.status = 'done'
    LEFT JOIN lapor_sync.jobs l ON l.job_key = 'lapor_create:' || c.complaint_id AND l.status = 'done'
    WHERE c.tracking_code = ANY($1::text[])"""
PROGRESS = "SELECT count(*), count(n.done_at), count(l.done_at)" + _FOLLOWED
TIMES = """SELECT c.complaint_id::text, extract(epoch FROM a.assigned_at) AS assigned,
                  extract(epoch FROM n.done_at) AS notified, extract(epoch FROM l.done_at) AS reported""" + _FOLLOWED


async def drain(db_url: str, codes: list[str], timeout: float, stall: float = 90) -> tuple[list, float]:
    """Waits until every complaint is assigned, mailed to its unit and reported to LAPOR!, at most
    `timeout` s, or `stall` s without progress. Returns the rows and how long it waited."""
    conn = await asyncpg.connect(db_url)
    try:
        started = last_change = time.monotonic()
        last, want = None, (len(codes),) * 3
        while True:
            now_counts = tuple(await conn.fetchrow(PROGRESS, codes))
            if now_counts != last:
                last, last_change = now_counts, time.monotonic()
            if now_counts == want or time.monotonic() - started > timeout or time.monotonic() - last_change > stall:
                break
            await asyncio.sleep(2)
        return await conn.fetch(TIMES, codes), time.monotonic() - started
    finally:
        await conn.close()


# ---------------------------------------------------------------- figures

def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def censored(values: list[float], of: int) -> list[float]:
    """Sorted, with the complaints not through (yet) as slower than any that are."""
    return sorted(values) + [float("inf")] * (of - len(values))


def line(name: str, values: list[float], of: int) -> str:
    ordered = censored(values, of)
    if not ordered:
        return f"{name:34} none"
    cells = "  ".join(f"{label} {fmt(percentile(ordered, p))}" for label, p in (("p50", 50), ("p95", 95), ("p99", 99)))
    return f"{name:34} {cells}  max {fmt(ordered[-1])}  ({len(values)}/{of} through)"


def fmt(ms: float) -> str:
    return "not through" if ms == float("inf") else f"{ms:8.1f} ms"


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):  # exited
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime + stime


def database_backends(database: str) -> list[int]:
    """PostgreSQL backends connected to `database`: their process title names it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
            found.append(int(entry.name))
    return found


def listener_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1/any `port` (the Kafka broker), from /proc, or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            cells = row.split()
            if cells[1].endswith(f":{port:04X}") and cells[3] == "0A":  # LISTEN
                inodes.add(f"socket:[{cells[9]}]")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                    return int(entry.name)
            except OSError:
                pass
    return None


class CpuMeter:
    """CPU time between marks: each process of this run, this run's PostgreSQL backends, the Kafka
    broker (shared with whoever else uses it), and the whole machine."""

    def __init__(self, processes: dict[str, int], database: str, kafka_port: int) -> None:
        self.processes, self.database, self.kafka = processes, database, listener_pid(kafka_port)
        self.marks: list[tuple[float, dict[str, dict[int, float]], float, float]] = []

    def mark(self) -> None:
        groups = {name: [pid] for name, pid in self.processes.items()}
        groups["PostgreSQL backends"] = database_backends(self.database)
        if self.kafka:
            groups["Kafka broker (shared)"] = [self.kafka]
        seconds = {name: {pid: cpu for pid in pids if (cpu := cpu_seconds(pid)) is not None}
                   for name, pids in groups.items()}
        seconds["load generator"] = {os.getpid(): sum(os.times()[:2])}
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        busy = (sum(values) - values[3] - values[4]) / CLOCK_TICK  # all but idle and iowait, all cores
        self.marks.append((time.monotonic(), seconds, busy, sum(values) / CLOCK_TICK))

    def between(self, first: int, second: int) -> tuple[float, float, dict[str, float]]:
        """(span s, machine busy in % of one core, {process or group: CPU seconds})."""
        (t0, seconds0, busy0, total0), (t1, seconds1, busy1, total1) = self.marks[first], self.marks[second]
        machine = 100 * (os.cpu_count() or 1) * (busy1 - busy0) / max(total1 - total0, 1e-9)
        used = {name: sum(cpu - seconds0.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
                for name, pids in seconds1.items()}  # a backend that appeared in between counts whole
        return t1 - t0, machine, used


def print_cpu(cpu: CpuMeter, accepted: int) -> None:
    """% of one core per phase, and CPU ms per accepted complaint over load + drain (robust to contention:
    a starved process takes longer, not more CPU, for the same work)."""
    phases = [cpu.between(0, 1), cpu.between(1, 2), cpu.between(2, 3)]
    whole = cpu.between(1, 3)[2]
    print(f"{'CPU, % of one core':30} {'before':>8} {'load':>8} {'drain':>8}   ms per complaint (load + drain)")
    print(f"{'  phase length, s':30} " + " ".join(f"{span:8.0f}" for span, _, _ in phases))
    print(f"{'  machine, of ' + str(100 * (os.cpu_count() or 1)):30} "
          + " ".join(f"{machine:8.0f}" for _, machine, _ in phases))
    for name in whole:
        shares = " ".join(f"{100 * used.get(name, 0) / span:8.0f}" for span, _, used in phases)
        print(f"  {name:28} {shares}   {1000 * whole[name] / max(accepted, 1):6.1f}")
    ours = sum(whole[name] for name in (*SERVICES, "PostgreSQL backends") if name in whole)
    print(f"  {'Aduan services + their PostgreSQL backends':60} {1000 * ours / max(accepted, 1):6.1f}")


def peak_rss_mib(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024  # kB
    return float("nan")


def stop_reading_peak_rss(procs: Processes) -> dict[str, float]:
    """VmHWM of each process just before it is stopped; intakes first, stand-ins last."""
    rss = {}
    for service in reversed(procs.running):
        if service.process.poll() is None:
            rss[service.name] = peak_rss_mib(service.process.pid)
        procs.stop(service)
    procs.running.clear()
    return rss


# ---------------------------------------------------------------- run

async def warm_up(urls: dict[str, str], db_url: str) -> None:
    """A few complaints per channel, followed to the end: consumer groups joined, connections open."""
    offered = await offer(Requests(urls, run=f"warm-{uuid.uuid4().hex[:8]}"), rate=10, seconds=0.9, concurrency=9)
    if offered.non_2xx or len(offered.accepted) != 9:
        raise RuntimeError(f"warm-up refused: {offered.refused}")
    rows, _ = await drain(db_url, offered.accepted, timeout=120)
    if len(rows) != 9 or any(r["notified"] is None or r["reported"] is None for r in rows):
        raise RuntimeError("warm-up complaints did not get through in 120 s")


async def baseline_hop(args: argparse.Namespace) -> list[float]:
    kafka = KafkaSettings()
    topic = f"{kafka.topic_prefix}bench.hop"
    admin = AIOKafkaAdminClient(**client_options(kafka))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    return await bare_hop(kafka.bootstrap_servers, topic, args.rate, args.seconds, args.concurrency)


async def measure(args: argparse.Namespace, procs: Processes, db_url: str, maildir: Path) -> None:
    print(f"E2E latency: {args.rate:g} complaints/s offered for {args.seconds:g} s, open loop (at most "
          f"{args.concurrency} in flight), a third each to web JSON, SMS generic webhook (signed), WhatsApp webhook "
          f"(signed)\n{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
          f"services log at {args.log_level}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    baseline = await baseline_hop(args)
    print(line("baseline: bare aiokafka hop", baseline, len(baseline)), flush=True)

    services = start_system(procs, maildir, args.log_level)
    urls = {name: services[name].url for name in ("web", "sms", "whatsapp")}
    await warm_up(urls, db_url)
    kafka_port = int(KafkaSettings().bootstrap_servers.split(",")[0].rpartition(":")[2])
    cpu = CpuMeter({service.name: service.process.pid for service in procs.running}, db_url.rpartition("/")[2],
                   kafka_port)
    cpu.mark()
    await asyncio.sleep(5)  # what the machine does without our load: other work, idle services
    cpu.mark()
    offered = await offer(Requests(urls, run=f"bench-{uuid.uuid4().hex[:8]}"), args.rate, args.seconds,
                          args.concurrency)
    cpu.mark()
    rows, waited = await drain(db_url, offered.accepted, args.drain_seconds)
    cpu.mark()
    published = await publish_times(KafkaSettings().bootstrap_servers, Topics(KafkaSettings().topic_prefix).received)

    accepted = len(offered.accepted)
    span = offered.last_answer - offered.started
    achieved = accepted / span if accepted else 0.0
    assign, notify, report = [], [], []
    window = max(1, int(args.seconds // 6))
    notify_by_window: dict[int, list[float]] = {}
    for row in rows:
        if (at := published.get(row["complaint_id"])) is None:
            continue  # not read back from the topic in time: counted as not through
        assign.append((float(row["assigned"]) - at) * 1000)
        if row["notified"] is not None:
            notify.append((float(row["notified"]) - at) * 1000)
            notify_by_window.setdefault(int((at - offered.started) // window), []).append(notify[-1])
        if row["reported"] is not None:
            report.append((float(row["reported"]) - at) * 1000)

    channels = ", ".join(f"{channel} {count}" for channel, count in sorted(offered.by_channel.items()))
    print(f"offered {args.rate:g}/s ({int(args.rate * args.seconds)})  sent {offered.sent}  accepted {accepted} in "
          f"{span:.1f} s = {achieved:.1f}/s ({channels})  non-2xx {offered.non_2xx} {offered.refused or ''} "
          f"unanswered 30 s after the last was due {offered.unanswered}")
    print(line("HTTP: scheduled send -> 2xx", offered.http_ms, accepted + offered.unanswered))
    print(line("HTTP: scheduled send -> any answer", offered.answer_ms, int(args.rate * args.seconds)))
    if offered.queued:
        print(f"(of the accepted, {offered.queued} SMS were kept and answered 'queued' at once)")
    print(line("accepted -> assignment stored", assign, accepted))
    print(line("accepted -> unit e-mail sent", notify, accepted))
    print(line("accepted -> LAPOR! report created", report, accepted))
    print(f"(the database read {waited:.0f} s after the load ended)")
    print(f"unit e-mail p50 by when accepted ({window}-s windows): " + "  ".join(
        f"{k * window}s {percentile(sorted(v), 50) / 1000:.1f} s" for k, v in sorted(notify_by_window.items())))
    base_p99 = percentile(sorted(baseline), 99)
    assign_p99 = percentile(censored(assign, accepted), 99) if accepted else float("nan")
    ratio = assign_p99 / max(base_p99, 0.1)
    print(f"assignment p99 / bare hop p99 = {assign_p99:.1f} / {base_p99:.1f} ms = {ratio:.1f}x")
    print_cpu(cpu, accepted)
    if (before := cpu.between(0, 1)[1]) > 50:
        print(f"NOTE: the machine was {before:.0f} % busy before the load (work other than this run's): "
              "the figures above measure that contention as much as this system")

    rss = stop_reading_peak_rss(procs)
    ours = [value for name, value in rss.items() if name in SERVICES]
    print("peak RSS (VmHWM), MiB: " + ", ".join(f"{name} {value:.1f}" for name, value in rss.items())
          + f"; load generator {peak_rss_mib(os.getpid()):.1f}")

    def ms(values: list[float], p: float) -> str:
        return f"{percentile(censored(values, accepted), p):.1f}" if accepted else "nan"

    print(f"e2e_rate={achieved:.1f} e2e_assign_p50_ms={ms(assign, 50)} e2e_assign_p99_ms={ms(assign, 99)} "
          f"e2e_notify_p50_ms={ms(notify, 50)} e2e_notify_p99_ms={ms(notify, 99)} e2e_lapor_p99_ms={ms(report, 99)} "
          f"baseline_p99_ms={base_p99:.1f} assign_p99_ratio={ratio:.1f} offered_rate={args.rate:g} "
          f"non_2xx={offered.non_2xx} unanswered={offered.unanswered} not_notified={accepted - len(notify)} "
          f"answer_p99_ms={percentile(censored(offered.answer_ms, int(args.rate * args.seconds)), 99):.1f} "
          f"rss_max_mib={max(ours, default=0):.1f}")


def interrupted(*_: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the finally blocks stop the processes and drop the database."""
    raise KeyboardInterrupt


def main() -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=float(env("BENCH_E2E_RATE", 200)), help="complaints/s offered")
    parser.add_argument("--seconds", type=float, default=float(env("BENCH_E2E_SECONDS", 60)), help="load duration")
    parser.add_argument("--drain-seconds", type=float, default=float(env("BENCH_E2E_DRAIN_SECONDS", 600)),
                        help="longest wait after the load for every complaint to get through")
    parser.add_argument("--concurrency", type=int, default=int(env("BENCH_E2E_CONCURRENCY", 128)),
                        help="requests in flight at most")
    parser.add_argument("--log-level", default=env("BENCH_E2E_LOG_LEVEL", "INFO"),
                        help="the services' log level (production: INFO)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs (path printed)")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, interrupted)
    # aiokafka logs errors while a topic created moments ago gets its leaders, and retries: expected here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    kafka, admin_url = KafkaSettings(), DatabaseSettings().url
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:6]}.")
    os.environ["ADUAN_KAFKA_TOPIC_PREFIX"] = topics.prefix  # KafkaSettings() below and the services see it
    work = Path(tempfile.mkdtemp(prefix="aduan-bench-e2e-"))
    procs = Processes(env={"ADUAN_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                           "ADUAN_KAFKA_TOPIC_PREFIX": topics.prefix}, log_dir=work)
    database = None
    try:
        asyncio.run(create_topics(kafka, topics))
        database, procs.env["ADUAN_DB_URL"] = asyncio.run(create_database(admin_url))
        asyncio.run(measure(args, procs, procs.env["ADUAN_DB_URL"], work / "mail"))
    finally:
        try:
            procs.stop_all()
        finally:
            if database:
                asyncio.run(drop_database(admin_url, database))
            asyncio.run(delete_topics(kafka.bootstrap_servers, topics.prefix))
            if args.keep_logs:
                print(f"logs kept in {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
