"""Delivery throughput: unit mails to a local SMTP server and reports to the LAPOR! stand-in.

    python -m bench.deliveries [--count 1000]

Publishes `count` ComplaintAssigned events and times the notifier (unit e-mail jobs) and
lapor_sync (report jobs) until every one is done, each a real process on Kafka and PostgreSQL.
Baseline, same run, same servers: the same sends made directly from one process with the
same clients and concurrency (8), without Kafka, the job table or retries.
Last line: `smtp_per_s=... smtp_direct_per_s=... lapor_per_s=... lapor_direct_per_s=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.scratch import create_database, delete_topics, drop_database
from services.lapor_sync.lapor_contract import LaporClient, report_from_assignment
from services.notifier.messages import status_link, unit_assignment_email
from services.router.routing.assignment import build_assignment
from services.router.routing.rules import load_ruleset
from shared.contracts import Channel, ComplaintReceived, Reporter
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import Topics, create_topics
from standins.smtp_sink import start as start_smtp
from tests.support.kafka import publish_events
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[1]
CONCURRENCY = 8


def events(count: int, tag: str) -> list:
    ruleset = load_ruleset()
    made = []
    for n in range(count):
        received = ComplaintReceived.new(channel=Channel.WEB, channel_message_id=f"bench-{tag}-{n}",
                                         text=f"Aduan {n}: denda pajak hotel dihitung salah", producer="bench",
                                         reporter=Reporter())
        made.append(build_assignment(received, ruleset.route(received.text, "web"), 1, now=datetime.now(UTC)))
    return made


def start(module: str, env: dict, port_env: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env={**os.environ, **env, port_env: str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json" if "standins" in module
                         else f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{module} did not start")


async def wait_done(db_url: str, schema: str, keys: list[str]) -> tuple[float, float]:  # inf: one batch
    """Events taken per second (first to last job enqueued) and jobs done per second (first enqueued to
    last done), from the database's own timestamps: the service's start-up is not counted."""
    conn = await asyncpg.connect(db_url)
    try:
        while await conn.fetchval(f"SELECT count(*) FROM {schema}.jobs WHERE job_key = ANY($1) AND status = 'done'",
                                  keys) < len(keys):
            await asyncio.sleep(0.1)
        row = await conn.fetchrow(
            f"""SELECT extract(epoch FROM max(created_at) - min(created_at)) AS taking,
                       extract(epoch FROM max(done_at) - min(created_at)) AS doing
                FROM {schema}.jobs WHERE job_key = ANY($1)""", keys)
        # Events taken in one batch share one transaction time: no rate to tell, say so.
        taking = float(row["taking"])
        return (len(keys) / taking if taking else float("inf")), len(keys) / float(row["doing"])
    finally:
        await conn.close()


async def direct_smtp(batch: list, port: int) -> float:
    import aiosmtplib
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(assigned) -> None:
        async with gate:
            mail = unit_assignment_email(assigned, mail_from="bench@aduan", message_id=f"<{uuid.uuid4()}@b>",
                                         link=status_link("http://x", assigned.tracking_code))
            await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)

    started = time.perf_counter()
    await asyncio.gather(*(one(a) for a in batch))
    return len(batch) / (time.perf_counter() - started)


async def direct_lapor(batch: list, url: str) -> float:
    client = LaporClient(url, "local-standin-token")
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(assigned) -> None:
        async with gate:
            if await client.find_by_reference(assigned.complaint_id) is None:
                await client.create_report(report_from_assignment(assigned))

    started = time.perf_counter()
    await asyncio.gather(*(one(a) for a in batch))
    await client.close()
    return len(batch) / (time.perf_counter() - started)


async def main(count: int) -> None:
    kafka, admin_url = KafkaSettings(), DatabaseSettings().url
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:6]}.")
    await create_topics(kafka, topics)
    database, db_url = await create_database(admin_url)
    maildir = Path(tempfile.mkdtemp(prefix="aduan-bench-mail-"))
    smtp_port = free_port()
    smtp = start_smtp(maildir, smtp_port)
    env = {"ADUAN_KAFKA_TOPIC_PREFIX": topics.prefix, "ADUAN_DB_URL": db_url,
           "ADUAN_NOTIFIER_SMTP_PORT": str(smtp_port),
           "ADUAN_NOTIFIER_LOG_LEVEL": "WARNING", "ADUAN_LAPOR_SYNC_LOG_LEVEL": "WARNING"}
    standin, standin_port = start("standins.lapor", env, "ADUAN_LAPOR_STANDIN_PORT")
    env["ADUAN_LAPOR_SYNC_LAPOR_BASE_URL"] = f"http://127.0.0.1:{standin_port}"
    rates = {}
    try:
        # One service at a time, so each has the machine to itself, as its baseline does.
        for name, module, port_env, schema, key in (
                ("smtp", "services.notifier", "ADUAN_NOTIFIER_PORT", "notifier", "unit_email:{a.assignment_id}"),
                ("lapor", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT", "lapor_sync",
                 "lapor_create:{a.complaint_id}")):
            batch = events(count, f"{topics.prefix}{name}")
            await publish_events(kafka.bootstrap_servers, topics.assigned, batch)
            service, _ = start(module, env, port_env)
            try:
                rates[name] = await wait_done(db_url, schema, [key.format(a=a) for a in batch])
            finally:
                service.terminate()
                service.wait(30)
        smtp_direct = await direct_smtp(events(count, topics.prefix + "d"), smtp_port)
        lapor_direct = await direct_lapor(events(count, topics.prefix + "d"), f"http://127.0.0.1:{standin_port}")
    finally:
        standin.terminate()
        smtp.stop()
        shutil.rmtree(maildir, ignore_errors=True)
        await drop_database(admin_url, database)
        await delete_topics(kafka.bootstrap_servers, topics.prefix)
    smtp_rate, lapor_rate = rates["smtp"][1], rates["lapor"][1]
    print(f"{count} assignments per service, concurrency {CONCURRENCY}, one service at a time")
    print(f"unit mail via notifier: {smtp_rate:6.0f}/s (events taken in {rates['smtp'][0]:.0f}/s)"
          f"   direct aiosmtplib: {smtp_direct:6.0f}/s")
    print(f"LAPOR via lapor_sync:   {lapor_rate:6.0f}/s (events taken in {rates['lapor'][0]:.0f}/s)"
          f"   direct client:     {lapor_direct:6.0f}/s")
    print(f"smtp_per_s={smtp_rate:.0f} smtp_direct_per_s={smtp_direct:.0f} "
          f"lapor_per_s={lapor_rate:.0f} lapor_direct_per_s={lapor_direct:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    asyncio.run(main(parser.parse_args().count))
