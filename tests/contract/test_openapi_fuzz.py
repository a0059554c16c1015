"""Generated requests (schemathesis) against each intake's own OpenAPI document.

Each intake runs in this process with its lifespan (the real Kafka under a topic prefix of this
module, the session's PostgreSQL), reached through ASGI: schemathesis runs the lifespan and
every request on one event loop of its own. Kafka is up, so no answer may be a 5xx: the one
documented 503 (broker unavailable) would be a bug here too.

What the documents describe is what gets fuzzed: the web intake's JSON API in depth (fields,
Idempotency-Key, tracking codes); the SMS and WhatsApp webhooks read their bodies raw and are
signed, so generated requests mostly end in 401/403 (expected: no signature, no entry) and
their parsers are covered by tests/unit/test_properties_payloads.py instead.
"""

from __future__ import annotations

import importlib
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
)

import tests.support.properties  # noqa: F401 (loads the hypothesis profile: no database, no deadline)
from services.intake.web.form import MIN_TEXT
from shared.channel_kit import InvalidText, clean_text
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import Topics, create_topics

pytestmark = [pytest.mark.kafka, pytest.mark.postgres,
              # schemathesis' own strategies draw from `random`; not ours to change
              pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")]

# Fuzzed requests per operation, on top of schemathesis' explicit examples and deterministic
# coverage cases (boundaries, missing fields, wrong types). The web API is where the documents
# describe the input; the webhooks' documents describe almost none (see the module docstring).
EXAMPLES = {"web": 50, "sms": 20, "whatsapp": 20}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, response_headers_conformance,
          negative_data_rejection]
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
async def topics(infra):
    topics = Topics(prefix=f"f{uuid.uuid4().hex[:8]}.")
    await create_topics(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap), topics)
    return topics


@pytest.fixture(scope="module", autouse=True)
def _stop_apps():
    """The apps' lifespans run on schemathesis' event loop until stopped: brokers and pools closed here."""
    yield
    asgi.shutdown_lifespans()


OPERATIONS = {
    "web": [("POST", "/api/v1/complaints"), ("GET", "/api/v1/complaints/{tracking_code}"),
            ("POST", "/api/v1/complaints/{tracking_code}/replies")],
    "sms": [("GET", "/kannel/inbound"), ("POST", "/kannel/inbound"), ("POST", "/api/v1/sms/inbound")],
    "whatsapp": [("GET", "/webhook"), ("POST", "/webhook")],
}


@pytest.fixture(scope="module")
def schemas(infra, topics, database_url):
    """Each intake's OpenAPI document, fetched from the app itself (which starts its lifespan)."""
    loaded = {}
    for channel in OPERATIONS:
        contract = importlib.import_module(f"services.intake.{channel}.contract")
        app = contract.build(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap, topic_prefix=topics.prefix,
                                           publish_timeout_seconds=5),
                             DatabaseSettings(url=database_url))
        loaded[channel] = schemathesis.openapi.from_asgi("/openapi.json", app)
    return loaded


def test_every_documented_operation_is_fuzzed(schemas):
    for channel, schema in schemas.items():
        documented = sorted((op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations())
        assert documented == sorted(OPERATIONS[channel]), channel


def _call_and_check(case) -> None:
    response = case.call(timeout=30)
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize(("channel", "method", "path"),
                         [(channel, method, path) for channel, ops in OPERATIONS.items() for method, path in ops])
def test_generated_requests_get_no_server_error(schemas, channel, method, path):
    # schemathesis' pytest loader (from_fixture) fails on pytest 9 ("Function has no _nodeid"), so the
    # test is built as that loader builds it: explicit examples, coverage cases, then fuzzing.
    operation = schemas[channel][path][method]
    create_test(operation=operation, test_func=_call_and_check,
                config=HypothesisTestConfig(project=schemas[channel].config, modes=list(HypothesisTestMode),
                                            settings=settings(FUZZ, max_examples=EXAMPLES[channel])))()


@given(st.one_of(st.text(min_size=10, max_size=300), st.text(" \t\n\x00\u200b", min_size=9, max_size=12).map(
    lambda pad: pad + "lampu")), st.sampled_from([str.lower, str.upper, lambda code: code.replace("-", " "),
                                                   lambda code: f"  {code}"]))
@example("          a", str.lower)  # ten spaces and a letter: the form refused it, the API took it
@settings(FUZZ, max_examples=10)
def test_an_accepted_complaint_is_found_by_its_code_however_typed(schemas, text, typed):
    # Fuzzed codes are almost never real ones; this reaches the 200 answer and checks its schema.
    web = schemas["web"]
    sent = web["/api/v1/complaints"]["POST"].Case(body={"text": text}, media_type="application/json")
    accepted = sent.call(timeout=30)
    sent.validate_response(accepted, checks=CHECKS)
    try:
        content = clean_text(text)
    except InvalidText:
        content = ""
    if len(content) < MIN_TEXT:  # the API counts what the form counts: no padding, no control characters
        assert accepted.status_code == 422, accepted.text
        return
    assert accepted.status_code == 202, accepted.text
    code = accepted.json()["tracking_code"]
    lookup = web["/api/v1/complaints/{tracking_code}"]["GET"].Case(path_parameters={"tracking_code": typed(code)})
    found = lookup.call(timeout=30)
    lookup.validate_response(found, checks=CHECKS)
    assert found.status_code == 200 and found.json()["tracking_code"] == code
