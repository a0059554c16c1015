"""Security review, issue 14, item 1: what may leave as SMS (services/notifier/sms_limits.py).

Three forged Kannel calls with sender +447700900123 made the notifier send three paid SMS to +44, and
nothing bounded how many SMS one number, or all numbers, could be sent. The real notifier process,
its own database (the limits count in it), and the signed HTTP SMS gateway stand-in.
"""

from __future__ import annotations

import json

import httpx
import pytest

from shared.contracts import CitizenReplyRequested
from tests.conftest import fast_retries
from tests.support.kafka import publish_events, until

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def notifier(processes, sms_standin, own_database_url, smtp_server):
    def start(**limits: str):
        return processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
            **fast_retries("ADUAN_NOTIFIER_"), "ADUAN_DB_URL": own_database_url,
            "ADUAN_NOTIFIER_SMTP_PORT": str(smtp_server[0]), "ADUAN_NOTIFIER_SMS_GATEWAYS": '["generic"]',
            "ADUAN_NOTIFIER_GENERIC_SMS_URL": f"{sms_standin.url}/api/v1/messages",
            **{f"ADUAN_NOTIFIER_SMS_{name.upper()}": value for name, value in limits.items()}})
    return start


def format_help(n: int, to: str) -> CitizenReplyRequested:
    return CitizenReplyRequested(reply_id=f"format_help:kannel:pump-{n}-{to}", channel="sms", to=to,
                                 text="Format aduan SMS: SURGA <isi aduan>.", reason="format_help", gateway="kannel",
                                 producer="tests", correlation_id=f"pump-{n}")


def sent(sms_standin) -> list[dict]:
    return httpx.get(f"{sms_standin.url}/_standin/messages").json()["items"]


async def jobs(database_url: str) -> list[dict]:
    import asyncpg
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT job_key, status, result, last_error FROM notifier.jobs "
                                "WHERE kind = 'citizen_reply' ORDER BY job_id")
    finally:
        await conn.close()
    return [{**row, "result": json.loads(row["result"]) if row["result"] else None} for row in rows]


async def test_no_sms_leaves_for_a_number_abroad(notifier, sms_standin, infra, topics, own_database_url):
    notifier()
    abroad = [format_help(n, "+447700900123") for n in range(3)]
    home = format_help(9, "+6281298765432")  # after them, on the same partition: it going out shows they were read
    await publish_events(infra.kafka_bootstrap, topics.replies, [*abroad, home], key="one-partition")
    await until(lambda: sent(sms_standin), "the SMS to the Indonesian number")
    done = await until(lambda: _all_done(own_database_url, 4), "every job recorded")
    assert [m["to"] for m in sent(sms_standin)] == ["+6281298765432"]
    assert [j["result"].get("not_sent") for j in done if "+44" in j["job_key"]] == [
        "not a number in a country the city sends SMS to"] * 3


async def test_sms_to_one_number_stop_at_its_limit(notifier, sms_standin, infra, topics, own_database_url):
    notifier(per_recipient_per_hour="3")
    await publish_events(infra.kafka_bootstrap, topics.replies, [format_help(n, "+6281298765432") for n in range(6)],
                         key="one-partition")
    done = await until(lambda: _all_done(own_database_url, 6), "every job recorded")
    assert len(sent(sms_standin)) == 3
    assert sum(j["result"].get("not_sent", "").startswith("over the limit of SMS to one number") for j in done) == 3


async def test_past_the_overall_limit_sms_wait_and_none_is_dropped(notifier, sms_standin, infra, topics,
                                                                  own_database_url):
    notifier(overall_per_minute="4")
    await publish_events(infra.kafka_bootstrap, topics.replies,
                         [format_help(n, f"+62812987654{n:02d}") for n in range(7)], key="one-partition")
    waiting = await until(lambda: _waiting(own_database_url, 3), "three SMS waiting for the next minute")
    assert all("over the limit of 4 SMS a minute" in j["last_error"] for j in waiting)
    assert len(sent(sms_standin)) == 4


async def _all_done(database_url: str, count: int) -> list[dict] | None:
    found = await jobs(database_url)
    return found if len(found) == count and all(j["status"] == "done" for j in found) else None


async def _waiting(database_url: str, count: int) -> list[dict] | None:
    found = [j for j in await jobs(database_url) if j["status"] == "pending" and j["last_error"]]
    return found if len(found) == count else None
