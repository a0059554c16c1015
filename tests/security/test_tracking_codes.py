"""Security review, issue 14, item 3: the tracking code is the key to a complaint's status and its replies.

Codes were sha256 of a UUIDv5 in a public namespace of the channel's message id: Gammu's ids are sequential,
the web's Idempotency-Key is the caller's, so anyone could compute codes. And a caller who reused someone
else's Idempotency-Key was answered with that person's complaint and code.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from services.intake.web.app import build_app
from services.intake.web.settings import WebSettings
from services.router.adapters.postgres import RouterRepository
from services.router.app import MIGRATIONS
from services.router.lifecycle import TransitionRefused, UnitAction
from shared.contracts import CitizenReplied, citizen_reply_id_for, complaint_id_for, contact_digest, tracking_code_for
from shared.database import create_pool, migrate
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import Topics, create_topics
from tests.integration.test_lifecycle import act, answer_within, stored
from tests.support.processes import REPO


def _unkeyed(complaint_id: str) -> str:
    """The code as it was computed before: anyone could."""
    alphabet, number = "0123456789ABCDEFGHJKMNPQRSTVWXYZ", int.from_bytes(
        hashlib.sha256(complaint_id.encode()).digest()[:8], "big")
    chars = []
    for _ in range(10):
        number, index = divmod(number, 32)
        chars.append(alphabet[index])
    return f"{''.join(chars[:5])}-{''.join(chars[5:])}"


def _code_in_a_process(complaint_id: str, key: str) -> str:
    env = {**os.environ, "ADUAN_TRACKING_CODE_KEY": key}
    return subprocess.run([sys.executable, "-c", f"from shared.contracts import tracking_code_for as t; "
                           f"print(t({complaint_id!r}))"], cwd=REPO, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_codes_cannot_be_computed_from_a_message_id_without_the_key():
    sequential = [complaint_id_for("sms", f"gammu-modem1:{n}") for n in range(1, 50)]
    assert not {tracking_code_for(cid) for cid in sequential} & {_unkeyed(cid) for cid in sequential}
    cid = sequential[0]
    # The same key in every intake and replica gives the same code (a retried SMS keeps its code);
    # another key, another code.
    assert _code_in_a_process(cid, "key-one") == _code_in_a_process(cid, "key-one")
    assert _code_in_a_process(cid, "key-one") != _code_in_a_process(cid, "key-two")


@pytest.mark.kafka
@pytest.mark.postgres
async def test_someone_elses_idempotency_key_gets_a_complaint_of_ones_own(infra, database_url):
    topics = Topics(prefix=f"s{uuid.uuid4().hex[:8]}.")
    await create_topics(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap), topics)
    app = build_app(WebSettings(kafka=KafkaSettings(bootstrap_servers=infra.kafka_bootstrap,
                                                    topic_prefix=topics.prefix),
                                db=DatabaseSettings(url=database_url), submissions_burst=100))
    key = {"Idempotency-Key": "order-1001"}  # guessable, or seen in a shared proxy's log

    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://web") as client:
            async def submit(text: str) -> dict:
                answer = await client.post("/api/v1/complaints", json={"text": text, "anonymity": "rahasia"},
                                           headers=key)
                assert answer.status_code == 202, answer.text
                return answer.json()

            victim = await submit("Kepala seksi meminta uang pelicin untuk izin usaha saya")
            again = await submit("Kepala seksi meminta uang pelicin untuk izin usaha saya")  # the victim's retry
            other = await submit("Ingin tahu kode aduan orang lain")
    assert again == victim  # a retry is still the same complaint
    assert other["complaint_id"] != victim["complaint_id"] and other["tracking_code"] != victim["tracking_code"]


@pytest.mark.postgres
async def test_a_reply_by_sms_is_taken_only_from_the_reporters_own_number(database_url):
    """`SURGA BALAS <code>` from any phone stopped the complaint's automatic closure; now the router takes a
    phone reply only from the reporter's number (or BSUID)."""
    schema = f"router_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(DatabaseSettings(url=database_url, pool_max_size=2), schema)
    await migrate(pool, schema, MIGRATIONS)
    repo = RouterRepository(pool)
    try:
        assigned = await stored(repo, "SURGA nama di SPPT PBB masih atas nama pemilik lama")
        await act(repo, assigned, UnitAction.RESPOND, message="Sudah kami betulkan")

        def by_sms(number: str) -> CitizenReplied:
            return CitizenReplied(
                reply_id=citizen_reply_id_for("sms", f"kannel:{uuid.uuid4()}"), complaint_id=assigned.complaint_id,
                tracking_code=assigned.tracking_code, channel="sms", text="Belum beres", producer="tests",
                received_at=datetime.now(UTC), correlation_id=assigned.complaint_id,
                sender_digest=contact_digest(number))

        with pytest.raises(TransitionRefused, match="reporter's own number"):
            await repo.record_reply(by_sms("+6289999999999"), answer_within(5))  # someone who knows the code
        taken = await repo.record_reply(by_sms("+6281234567890"), answer_within(5))
        assert taken is not None and taken.message == "Belum beres"
    finally:
        await pool.close()
