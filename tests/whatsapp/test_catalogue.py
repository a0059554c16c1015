"""Meta's documented WhatsApp webhooks against the real WhatsApp intake process and real Kafka.

tests/whatsapp/catalogue/ holds one realistic webhook per variant, written from Meta's reference pages
with Meta's field names (each file names its source), with the outcome expected for each part. Each
is posted signed, twice (Meta resends what it did not see answered 200), and what each outcome
promises is read back from the topics: the complaint with its reporter, the answer to the citizen's
address, the receipt, the address change, the part set aside. Then hypothesis mixes valid and
invalid messages in one webhook: every valid one is filed under one complaint id, every invalid one
set aside, none lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared.contracts import complaint_id_for
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.support.kafka import end_offsets, json_values, login, read_since
from tests.support.processes import Processes

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
CATALOGUE = Path(__file__).parent / "catalogue"
VARIANTS = sorted(CATALOGUE.glob("*.json"))
SECRET = "catalogue-app-secret"
# Which topic each outcome publishes to.
TOPIC_OF = {"complaint": "received", "format_help": "replies", "status_answered": "replies",
            "receipt": "delivery_receipts", "contact_changed": "contact_changes", "unusable": "whatsapp_unusable"}
IDENTITIES = ("6285755501234", "ID.13491208655302741918", "ID.80019283746501928374", "@rina.kdr",
              "Rina Wulandari")


def signed_post(url: str, payload: dict) -> httpx.Response:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(f"{url}/webhook", content=body, timeout=30,
                      headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})


@pytest.fixture(scope="module")
async def stack(infra, database_url, tmp_path_factory):
    """The WhatsApp intake and the web intake it asks for statuses, as processes, on topics of this module."""
    topics = Topics(prefix=f"w{uuid.uuid4().hex[:8]}.")
    await create_topics(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap), topics)
    processes = Processes(env={"ADUAN_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
                               "ADUAN_KAFKA_TOPIC_PREFIX": topics.prefix, "ADUAN_DB_URL": database_url},
                          log_dir=tmp_path_factory.mktemp("whatsapp"))
    try:
        web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
        intake = processes.start("whatsapp", "services.intake.whatsapp", "ADUAN_WHATSAPP_PORT", {
            "ADUAN_WHATSAPP_APP_SECRET": SECRET, "ADUAN_WHATSAPP_STATUS_API_URL": web.url})
        yield topics, intake
        log = intake.log()
        for identity in IDENTITIES:  # no number, BSUID, username or name reaches the log
            assert identity not in log, identity
    finally:
        processes.stop_all()
        admin = AIOKafkaAdminClient(**login(infra.kafka_bootstrap))
        await admin.start()
        try:
            await admin.delete_topics(list(topics.all_topics()))
        finally:
            await admin.close()


async def posted(infra, topics: Topics, url: str, payload: dict, expected: dict[str, int],
                 times: int = 1) -> tuple[list[httpx.Response], dict[str, list[dict]]]:
    """Post `times` times; the records each topic got, `expected[topic]` per post (raises if they do not
    come; a topic not named must get none). The intake answers after Kafka has acknowledged."""
    names = list(TOPIC_OF.values())
    starts = {name: await end_offsets(infra.kafka_bootstrap, getattr(topics, name)) for name in set(names)}
    answers = [await asyncio.to_thread(signed_post, url, payload) for _ in range(times)]
    records = {}
    for name in set(names):
        want = expected.get(name, 0) * times
        topic = getattr(topics, name)
        if want == 0:
            assert await end_offsets(infra.kafka_bootstrap, topic) == starts[name], f"{name} got records"
            records[name] = []
            continue
        found = await read_since(infra.kafka_bootstrap, topic, starts[name], until=lambda r, n=want: len(r) >= n,
                                 timeout=15)
        values = json_values(found) if name != "whatsapp_unusable" else [json.loads(r.value) for r in found]
        assert len(values) == want, f"{name}: {len(values)} records, expected {want}"
        records[name] = values
    return answers, records


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.stem)
async def test_documented_webhook_has_its_outcome(infra, stack, path):
    topics, intake = stack
    case = json.loads(path.read_text())
    expect = case["expect"]
    counts: dict[str, int] = {}
    for item in expect:
        if item["outcome"] in TOPIC_OF:
            counts[TOPIC_OF[item["outcome"]]] = counts.get(TOPIC_OF[item["outcome"]], 0) + 1

    answers, records = await posted(infra, topics, intake.url, case["webhook"], counts, times=2)

    for answer in answers:
        assert answer.status_code == 200, answer.text
        outcomes = answer.json()["outcomes"]
        assert [(o["part"], o["outcome"]) for o in outcomes] == [(e["part"], e["outcome"]) for e in expect]
        for got, want in zip(outcomes, expect, strict=True):
            if want["reason"] is not None:
                assert got["reason"] == want["reason"]
            else:
                assert got["reason"], "a part set aside says why"
    complaints = {r["complaint_id"]: r for r in records["received"]}
    for item, outcome in zip(expect, answers[0].json()["outcomes"], strict=True):
        if item["outcome"] == "complaint":
            # The same complaint on Meta's retry: the id comes from the wamid, whatever identity came with it.
            complaint = complaints[complaint_id_for("whatsapp", outcome["id"])]
            assert sum(r["complaint_id"] == complaint["complaint_id"] for r in records["received"]) == 2
            assert outcome["tracking_code"] == complaint["tracking_code"]
            if "reporter" in item:
                reporter = complaint["reporter"]
                assert {k: reporter.get(k) for k in item["reporter"]} == item["reporter"]
            if "text" in item:
                assert complaint["text"] == item["text"]
            if "attachment" in item:
                [attachment] = complaint["attachments"]
                assert attachment["kind"] == item["attachment"] and attachment["reference"].startswith(
                    "whatsapp-media:")
        elif item["outcome"] in ("format_help", "status_answered"):
            reply = next(r for r in records["replies"] if r["to"] == item["reply_to"])
            assert reply["channel"] == "whatsapp"
            assert reply["reason"] == item.get("reply_reason", "format_help")
            if item["outcome"] == "status_answered":
                assert "K7M2Q-9XD4T" in reply["text"]  # a code no complaint has: "tidak ditemukan"
        elif item["outcome"] == "receipt":
            receipt = next(r for r in records["delivery_receipts"] if r["state"] == item["reason"])
            assert receipt["message_id"] == outcome["id"] and receipt["error_code"] == item.get("error_code")
        elif item["outcome"] == "contact_changed":
            [change, again] = records["contact_changes"]
            assert change["change_id"] == again["change_id"]  # Meta's retry is the same change
            assert (change["old"], change["new"]) == (item["old"], item["new"])
        elif item["outcome"] == "unusable":
            assert all(r["reason"] and "raw" in r for r in records["whatsapp_unusable"])


def test_catalogue_covers_every_message_type_meta_documents():
    kinds = set()
    for path in VARIANTS:
        for change in (c for e in json.loads(path.read_text())["webhook"]["entry"] for c in e["changes"]):
            value = change["value"]
            kinds |= {m.get("type") for m in value.get("messages", [])}
            kinds |= {f"status:{s['status']}" for s in value.get("statuses", [])}
            kinds |= {f"interactive:{m['interactive']['type']}" for m in value.get("messages", [])
                      if m.get("type") == "interactive"}
            kinds |= {f"system:{m['system']['type']}" for m in value.get("messages", []) if m.get("type") == "system"}
            kinds |= {"group" for m in value.get("messages", []) if "group_id" in m}
            kinds |= {"errors" for _ in value.get("errors", [])}
    assert kinds >= {"text", "image", "video", "audio", "document", "sticker", "location", "contacts",
                     "interactive:button_reply", "interactive:list_reply", "interactive:nfm_reply", "button",
                     "reaction", "unsupported", "order", "system:user_changed_number",
                     "system:user_changed_user_id", "group", "status:sent", "status:delivered", "status:read",
                     "status:failed", "errors"}


# ------------------------------------------------------------------------------ mixed batches

valid_messages = st.builds(
    lambda n, username, body: {
        "id": f"wamid.HYP{uuid.uuid4().hex}", "timestamp": "1764230400", "type": "text", "text": {"body": body},
        "from_user_id": f"ID.{n:020d}", **({} if username else {"from": f"62857{n:08d}"})},
    st.integers(min_value=0, max_value=10**8 - 1), st.booleans(),
    # Something visible in every body: a text of control characters only is blank, and not filed (the
    # catalogue's own case); here every valid message must be a complaint.
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF), max_size=80).map(
        lambda t: f"aduan {t}"))
# Each is a message Meta could never mean: no id, no sender, an odd time, a sender that is no number.
invalid_messages = st.sampled_from([
    {"from": "6285700000001", "timestamp": "1764230400", "type": "text", "text": {"body": "tanpa id"}},
    {"id": "wamid.NOSENDER", "timestamp": "1764230400", "type": "text", "text": {"body": "tanpa pengirim"}},
    {"id": "wamid.ODDTIME", "from": "6285700000002", "timestamp": "kemarin", "type": "text",
     "text": {"body": "jam aneh"}},
    {"id": "wamid.BADFROM", "from": "+62 857-0000-0003", "timestamp": "1764230400", "type": "text",
     "text": {"body": "nomor aneh"}},
    {"id": "wamid.FARAWAY", "from": "6285700000004", "timestamp": "1764230400", "type": "location",
     "location": {"latitude": 91.5, "longitude": 200}},
    "not even an object",
])


# No shrinking: each example is two POSTs and topic reads against real processes, and a failure is reported
# with its example as found.
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(valid=st.lists(valid_messages, min_size=1, max_size=8), invalid=st.lists(invalid_messages, max_size=4),
       order=st.randoms(use_true_random=False), changes=st.integers(min_value=1, max_value=3))
def test_a_mixed_webhook_files_every_valid_message_once_and_sets_the_rest_aside(
        infra, stack, valid, invalid, order, changes):
    topics, intake = stack
    messages = valid + invalid
    order.shuffle(messages)
    # Spread over several changes, with no contact cards (the messages name their senders).
    split = [messages[i::changes] for i in range(changes)]
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp", "messages": part}} for part in split]}]}
    _, records = asyncio.run(posted(infra, topics, intake.url, payload,
                                    {"received": len(valid), "whatsapp_unusable": len(invalid)}, times=2))
    filed = [r["complaint_id"] for r in records["received"]]
    assert sorted(filed) == sorted(complaint_id_for("whatsapp", m["id"]) for m in valid * 2)
