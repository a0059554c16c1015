"""The contract every channel passes, run against each channel found in services/intake/.

Each channel declares in its `contract.py` how to build its app and what a valid message and
bad requests look like; the behaviour checked is the same for all: a valid message is
published once, a retry maps to the same complaint, bad input gets a 4xx with a reason and
publishes nothing, and a broker outage answers a retryable 503 with nothing half-done.
Real Kafka and PostgreSQL; the app runs in this process with its own lifespan.
"""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka.errors import KafkaTimeoutError

from services.notifier.app import citizen_contact
from services.notifier.citizens import ChannelWay, Citizens, channel_ways_back
from shared.contracts import ComplaintReceived, tracking_code_for
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import Topics, create_topics
from tests.support.events import assignment_for
from tests.support.http_counterpart import Counterpart
from tests.support.kafka import end_offsets, json_values, read_since

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
INTAKE = Path(__file__).resolve().parents[2] / "services" / "intake"


def discover(root: Path = INTAKE) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/contract.py") if not p.parent.name.startswith("_"))


CHANNELS = discover()
CONTRACTS = {name: importlib.import_module(f"services.intake.{name}.contract") for name in CHANNELS}
BAD_INPUT = [pytest.param(name, index, id=f"{name}-{case[0]}")
             for name, contract in CONTRACTS.items() for index, case in enumerate(contract.invalid())]
# Channels that bring their own way back to the citizen (way_back.py); web, SMS and WhatsApp are the
# notifier's own (tests/integration/test_notifier.py, tests/gateways, tests/whatsapp).
WAYS_BACK = [name for name in CHANNELS if (INTAKE / name / "way_back.py").exists()] or [
    pytest.param(None, marks=pytest.mark.skip(reason="no channel brings its own way back yet (a scaffolded one does)"))]


def test_every_channel_declares_its_contract():
    folders = sorted(p.name for p in INTAKE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert CHANNELS == [f for f in folders if f != "__pycache__"]


@pytest.fixture(scope="module")
async def topics(infra):
    """One set of topics for this module: each test looks only at what comes after its start."""
    topics = Topics(prefix=f"c{uuid.uuid4().hex[:8]}.")
    await create_topics(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap), topics)
    return topics


@pytest.fixture(scope="module", params=CHANNELS)
async def channel(request, infra, topics, database_url):
    """The channel's app, running with its lifespan (broker, database) in this process."""
    contract = CONTRACTS[request.param]
    app = contract.build(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, topic_prefix=topics.prefix,
                                       publish_timeout_seconds=5),
                         DatabaseSettings(url=database_url))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://intake",
                                     timeout=30) as client:
            yield contract, app, client


@pytest.fixture
async def received(infra, topics):
    """What the test publishes: `await received(n)` reads records after the test's start."""
    start = await end_offsets(infra.kafka_bootstrap, topics.received)

    async def read(expect: int = 0) -> list[dict]:
        if not expect:
            # An intake answers only after Kafka acknowledged: anything it published is there now.
            if await end_offsets(infra.kafka_bootstrap, topics.received) == start:
                return []
        records = await read_since(infra.kafka_bootstrap, topics.received, start,
                                   until=lambda r: len(r) >= max(expect, 1), timeout=10)
        return json_values(records)

    return read


async def send(client: httpx.AsyncClient, spec: dict) -> httpx.Response:
    return await client.request(spec["method"], spec["url"], headers=spec.get("headers"),
                                content=spec.get("content"), params=spec.get("params"))


async def test_valid_message_is_published_once(channel, received):
    contract, _, client = channel
    message_id = f"contract-{uuid.uuid4()}"
    answer = await send(client, contract.valid(message_id))
    assert answer.status_code in (200, 202), answer.text
    [event] = await received(1)
    assert event["event_type"] == "complaint.received" and event["schema_version"] == 1
    assert event["complaint_id"] == contract.complaint_id(message_id)
    assert event["tracking_code"] in answer.text


async def test_retried_message_maps_to_the_same_complaint(channel, received):
    contract, _, client = channel
    spec = contract.valid(f"contract-{uuid.uuid4()}")
    first, second = await send(client, spec), await send(client, spec)
    assert first.status_code == second.status_code and first.status_code in (200, 202)
    if getattr(contract, "SPOOLED", False):  # the spool knows it: the same answer, published once
        assert first.json() == second.json()
        assert len(await received(1)) == 1
        return
    events = await received(2)
    assert len({e["complaint_id"] for e in events}) == 1  # downstream stores it once
    assert len({e["tracking_code"] for e in events}) == 1


@pytest.mark.parametrize(("channel", "case"), BAD_INPUT, indirect=["channel"])
async def test_bad_input_is_rejected_with_a_reason_and_nothing_published(channel, received, case):
    contract, _, client = channel
    name, spec, status = contract.invalid()[case]
    answer = await send(client, spec)
    assert answer.status_code == status, f"{name}: {answer.status_code} {answer.text[:300]}"
    assert answer.json().get("reason"), f"{name}: no reason in {answer.text[:300]}"
    assert await received() == [], f"{name}: something was published"


async def test_broker_outage_is_a_retryable_error_with_nothing_half_done(channel, received, monkeypatch):
    contract, app, client = channel
    kit = app.state.kit

    async def broker_down(*_args, **_kwargs):
        raise KafkaTimeoutError()

    monkeypatch.setattr(kit.broker, "publish", broker_down)
    message_id = f"contract-{uuid.uuid4()}"
    answer = await send(client, contract.valid(message_id))
    if getattr(contract, "SPOOLED", False):
        # A channel whose gateway does not retry (SMS) keeps the message durably and says so.
        assert (answer.status_code, answer.json()["reason"]) == (202, "queued"), answer.text
        assert await received() == []
        monkeypatch.undo()
        # Once the broker is back the intake's relay publishes it without being asked again.
        events = await received(1)
        assert {e["complaint_id"] for e in events} == {contract.complaint_id(message_id)}
        return
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.json()["reason"] == "broker_unavailable"
    monkeypatch.undo()
    assert await received() == []
    if status_url := getattr(contract, "STATUS_URL", None):  # channels with a status read model
        code = tracking_code_for(contract.complaint_id(message_id))
        assert (await client.get(status_url.format(code=code))).status_code == 404
    # The same message, once the broker is back, goes through: the outage lost nothing.
    assert (await send(client, contract.valid(message_id))).status_code in (200, 202)
    [event] = await received(1)
    assert event["complaint_id"] == contract.complaint_id(message_id)


@pytest.mark.parametrize("channel", WAYS_BACK, indirect=True)
async def test_the_citizen_is_acknowledged_through_the_channels_way_back(channel, received, monkeypatch):
    """The notifier finds the channel's way_back.py by itself and the acknowledgement, with the tracking
    code, reaches the address the citizen wrote from: no notifier change for a new channel."""
    contract, _, client = channel
    name = next(n for n, c in CONTRACTS.items() if c is contract)
    async with Counterpart() as counterpart:
        for key, value in contract.way_back_env(counterpart.url).items():
            monkeypatch.setenv(key, value)
        ways_back = channel_ways_back()
        assert name in ways_back
        answer = await send(client, contract.valid(f"contract-{uuid.uuid4()}"))
        assert answer.status_code in (200, 202), answer.text
        [event] = await received(1)
        assigned = assignment_for(ComplaintReceived.model_validate(event))  # as the router decides
        citizens = Citizens({name: ChannelWay(ways_back[name])})
        way, to = citizens.way_to(name, citizen_contact(assigned))  # the notifier opens the sealed contact
        await way.acknowledge(assigned, to, "https://aduan.example/status", f"citizen_ack:{assigned.complaint_id}")
        await ways_back[name].close()
        [(address, text)] = [contract.delivered(body, headers) for body, headers in counterpart.requests]
    assert address == contract.REPLY_ADDRESS
    assert assigned.tracking_code in text
