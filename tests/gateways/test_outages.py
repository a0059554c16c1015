"""Outages behind the real gateways: Kafka stopped, then PostgreSQL stopped, while SMS keep arriving
through Kannel (with its default http-request-retry = 0: one call, then it forgets the SMS) and
through Gammu SMSD. After recovery every complaint is stored by the router exactly once and every
citizen got exactly one acknowledgement, through the gateway they wrote to, and no error SMS.

The stack runs on a Kafka broker and a PostgreSQL cluster of this module's own (tests/support/
own_infra.py), so stopping them touches no other test.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.support.gammu import GammuGateway
from tests.support.kafka import until
from tests.support.kannel import KANNEL_INBOUND_SECRET, Kannel, KannelPorts
from tests.support.own_infra import OwnInfra
from tests.support.processes import REPO, Processes, Service, free_port

pytestmark = [pytest.mark.gateways, pytest.mark.kafka, pytest.mark.postgres]
STATE_DIR = REPO / ".local" / "gateway-outages"
SHORT_NUMBER = "1708"


@dataclass
class OutageStack:
    infra: OwnInfra
    processes: Processes
    kannel: Kannel
    gammu: GammuGateway
    sms: Service
    sms_env: dict[str, str]
    sent: dict[str, str]  # sender -> complaint text as the router must store it

    async def by_kannel(self, sender: str, words: str) -> None:
        self.sent[sender] = words
        await asyncio.to_thread(self.kannel.send_mo, sender, SHORT_NUMBER, f"SURGA {words}")

    async def by_gammu(self, sender: str, words: str) -> None:
        self.sent[sender] = words
        self.gammu.inject(sender, f"SURGA {words}")

    async def stored(self) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.infra.database_url, timeout=5)
        try:
            return await conn.fetch("SELECT complaint_id, text, reporter->>'phone' AS phone FROM router.complaints")
        finally:
            await conn.close()

    async def waiting_in_spool(self) -> int:
        conn = await asyncpg.connect(self.infra.database_url, timeout=5)
        try:
            return await conn.fetchval("SELECT count(*) FROM intake_sms.inbound_sms WHERE handled_at IS NULL")
        finally:
            await conn.close()

    async def held_in_spool(self, count: int) -> int:
        """Waits until the spool holds `count` SMS not yet handled; returns how many it holds."""
        async def held() -> int | None:
            waiting = await self.waiting_in_spool()
            return waiting if waiting >= count else None

        return await until(held, f"{count} SMS in the spool")

    async def all_stored_once(self, timeout: float = 180) -> list[asyncpg.Record]:
        seen: list[asyncpg.Record] = []

        async def complete() -> list[asyncpg.Record] | None:
            try:
                seen[:] = await self.stored()
            except (OSError, asyncpg.PostgresError):
                return None
            return seen if len(seen) >= len(self.sent) else None

        try:
            rows = await until(complete, f"{len(self.sent)} complaints in the router", timeout)
        except TimeoutError as error:
            missing = sorted(set(self.sent) - {r["phone"] for r in seen})
            raise AssertionError(f"{error}; missing {missing}; logs in {self.processes.log_dir}") from error
        assert sorted((r["phone"], r["text"]) for r in rows) == sorted(self.sent.items())  # each once, exact
        return rows

    async def acknowledgements(self, kannel_senders: set[str], gammu_senders: set[str]) -> None:
        """One acknowledgement per citizen, from the gateway they wrote to, and no other SMS."""
        mt = await asyncio.to_thread(self.kannel.wait_mt, len(kannel_senders), 120)
        sent = await self.gammu.sent(len(gammu_senders), timeout=120)
        await asyncio.sleep(3)  # anything doubled would come now
        mt, sent = await asyncio.to_thread(self.kannel.mt_texts), await self.gammu.sent(0, timeout=1)
        assert sorted(t.receiver for t in mt) == sorted(kannel_senders)
        assert sorted(s.number for s in sent) == sorted(gammu_senders)
        texts = [t.text for t in mt] + [s.text for s in sent]
        assert all(text.startswith("Aduan Anda diterima, kode ") for text in texts), texts


@pytest.fixture
async def outage_stack(smtp_server, tmp_path) -> AsyncIterator[OutageStack]:
    infra = OwnInfra(STATE_DIR)
    await infra.start()
    await create_topics(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap), Topics(""))
    processes = Processes(env={"ADUAN_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "ADUAN_KAFKA_TOPIC_PREFIX": "",
                               "ADUAN_DB_URL": infra.database_url}, log_dir=tmp_path)
    gammu = GammuGateway(infra.database_url, "gammu", tmp_path / "gammu-state")
    ports = KannelPorts(admin=free_port(), smsbox=free_port(), sendsms=free_port(), fakesmsc=free_port())
    kannel = None
    try:
        await gammu.start()
        smtp_port, _ = smtp_server
        processes.start("router", "services.router", "ADUAN_ROUTER_PORT")
        web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
        processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
            "ADUAN_NOTIFIER_SMTP_PORT": str(smtp_port), "ADUAN_NOTIFIER_SMS_GATEWAYS": '["kannel", "gammu"]',
            "ADUAN_NOTIFIER_GAMMU_DATABASE_URL": gammu.url, "ADUAN_NOTIFIER_SMS_SENDER": SHORT_NUMBER,
            "ADUAN_NOTIFIER_KANNEL_SENDSMS_URL": f"http://127.0.0.1:{ports.sendsms}/cgi-bin/sendsms",
            "ADUAN_NOTIFIER_RETRY_BASE_SECONDS": "0.5", "ADUAN_NOTIFIER_RETRY_MAX_SECONDS": "2",
            "ADUAN_NOTIFIER_RETRY_MAX_ATTEMPTS": "500"})
        env = {"ADUAN_SMS_STATUS_API_URL": web.url, "ADUAN_SMS_GAMMU_DATABASE_URL": gammu.url,
               "ADUAN_SMS_GAMMU_POLL_SECONDS": "0.5", "ADUAN_SMS_SPOOL_RETRY_MAX_SECONDS": "3",
               "ADUAN_SMS_KANNEL_SECRET": KANNEL_INBOUND_SECRET}
        sms = processes.start("sms", "services.intake.sms", "ADUAN_SMS_PORT", env)
        # Kannel's default: one call per SMS, no retry. Our intake must keep what it is handed.
        kannel = await asyncio.to_thread(Kannel(tmp_path / "kannel-state", sms.url, ports, http_retry=0).start)
        yield OutageStack(infra, processes, kannel, gammu, sms, env, {})
    finally:
        processes.stop_all()
        if kannel:
            await asyncio.to_thread(kannel.stop)
        await gammu.stop()
        await infra.stop()


async def test_kafka_stopped_and_the_intake_restarted_meanwhile(outage_stack: OutageStack):
    stack = outage_stack
    kannel_senders = {f"+6281400000{n:03d}" for n in range(12)}
    gammu_senders = {f"+6281500000{n:03d}" for n in range(8)}
    k, g = sorted(kannel_senders), sorted(gammu_senders)
    for n in range(2):  # before: the ordinary path
        await stack.by_kannel(k[n], f"lampu jalan mati di gang {n}")
        await stack.by_gammu(g[n], f"sampah tidak diangkut di RT {n}")
    await stack.all_stored_once(timeout=60)

    await stack.infra.script("kafka", "stop")
    for n in range(2, 7):
        await stack.by_kannel(k[n], f"jalan berlubang di depan SD {n}")
        await stack.by_gammu(g[n], f"saluran mampet di blok {n}")
    # Every one of them is ours now (the gateways were answered "queued"; Gammu's rows are processed):
    # the intake dies during the outage (an OOM kill, a rollout) and comes back, Kafka still away.
    # (What a gateway sends while no intake answers is the gateway's to keep: Kannel with its default
    # of no retry drops it, hence two replicas and http-request-retry in docs/sms-gateways.md.)
    await stack.held_in_spool(10)
    stack.processes.stop(stack.sms, signal.SIGKILL)
    stack.sms = stack.processes.start("sms", "services.intake.sms", "ADUAN_SMS_PORT", port=stack.sms.port,
                                      extra_env=stack.sms_env)
    for n in range(7, 12):
        await stack.by_kannel(k[n], f"pungli di loket kelurahan {n}")
    await stack.by_gammu(g[7], "parkir liar di depan pasar")
    waiting = await stack.held_in_spool(16)
    print(f"\nkafka outage: {len(stack.sent)} SMS sent, {waiting} waiting in the spool with Kafka stopped")

    await stack.infra.script("kafka", "start")
    rows = await stack.all_stored_once()
    await stack.acknowledgements(kannel_senders, gammu_senders)
    print(f"kafka outage: {len(rows)} complaints stored once each, {len(kannel_senders)} acknowledged through "
          f"Kannel, {len(gammu_senders)} through Gammu, no error SMS")


async def test_postgresql_stopped(outage_stack: OutageStack):
    stack = outage_stack
    kannel_senders = {f"+6281600000{n:03d}" for n in range(8)}
    gammu_senders = {f"+6281700000{n:03d}" for n in range(4)}
    k, g = sorted(kannel_senders), sorted(gammu_senders)
    await stack.by_kannel(k[0], "lampu taman kota mati")
    await stack.by_gammu(g[0], "air PDAM keruh sejak kemarin")
    await stack.all_stored_once(timeout=60)

    await stack.infra.script("postgres", "stop")
    # The spool is away: the intake hands Kannel's SMS to Kafka directly. Gammu SMSD cannot store what
    # its modem receives: the SMS wait on the SIM.
    for n in range(1, 8):
        await stack.by_kannel(k[n], f"jalan rusak di kelurahan {n}")
    for n in range(1, 4):
        await stack.by_gammu(g[n], f"pohon tumbang di jalan {n}")
    await asyncio.sleep(3)
    await stack.infra.script("postgres", "start")
    # Gammu 1.42 reconnects to port 5432 whatever its Host said (smsdrc.template): on any other port it
    # never gets back. A supervisor watching phones."TimeOut" restarts it; the SMS waited on the SIM.
    restarted, back = False, await stack.gammu.database_time()
    try:
        await until(lambda: stack.gammu.reported_since(back), "gammu-smsd reporting again", timeout=20)
    except TimeoutError:
        await stack.gammu.stop()
        await stack.gammu.start()
        restarted = True
    rows = await stack.all_stored_once()
    await stack.acknowledgements(kannel_senders, gammu_senders)
    print(f"\npostgresql outage: {len(kannel_senders)} SMS by Kannel went to Kafka directly, {len(gammu_senders)} "
          f"by Gammu waited on the SIM (gammu-smsd restarted by the test's supervisor: {restarted}); "
          f"{len(rows)} complaints stored once each, no error SMS")

