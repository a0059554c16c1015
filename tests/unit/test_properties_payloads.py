"""Properties of the channel payload parsers: Kannel, the generic SMS webhook, the Gammu inbox,
the WhatsApp Cloud API webhook, the web form, and the router's rule and unit files.

What every one of them must hold: any input either becomes events the rest of the system can
take, or is refused with a reason (InvalidText / ValidationError / RuleSetError), never an
unexpected exception (a 500, a dead poller, a router that cannot start).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request

from services.intake.sms import kannel
from services.intake.sms.gammu import GammuInbox
from services.intake.sms.generic import GenericSms
from services.intake.sms.inbound import InboundSms, StatusDesk, handle_sms
from services.intake.sms.keyword import FORMAT_HELP, complaint_text
from services.intake.web.form import MAX_TEXT, photo_type, read_submission
from services.intake.web.intake import scoped
from services.intake.whatsapp.cloud_api import Webhook
from services.intake.whatsapp.inbound import COMPLAINT_TYPES, Unusable, complaint_from, parts
from services.router.routing.rules import DEFAULT_RULES_FILE, RuleSetError, parse_rules
from shared.channel_kit import InvalidText, clean_text
from shared.contracts import ComplaintReceived, complaint_id_for
from shared.phone import to_e164
from shared.units import DEFAULT_UNITS_FILE, RegistryError, parse_registry
from tests.support.properties import any_text, written_phone

ZONE = ZoneInfo("Asia/Jakarta")
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)), max_leaves=8)


def storable(event: ComplaintReceived) -> None:
    """What the router, the notifier and LAPOR! need of every event an intake publishes."""
    dumped = event.model_dump_json()
    assert ComplaintReceived.model_validate_json(dumped) == event  # survives Kafka
    # PostgreSQL text and jsonb refuse NUL: one such event would fail the router's batch forever.
    assert "\\u0000" not in dumped


class Kit:
    """What handle_sms needs of the channel kit: publish and publish_reply, here into lists."""

    producer = "tests"

    def __init__(self) -> None:
        self.published: list[ComplaintReceived] = []
        self.replies: list = []

    async def publish(self, event: ComplaintReceived) -> None:
        self.published.append(event)

    async def publish_reply(self, reply) -> None:
        self.replies.append(reply)


class NoStatuses:
    """The web intake's status API as the SMS intake sees it, knowing no complaint."""

    async def find(self, _code: str) -> None:
        return None


DESK = StatusDesk(NoStatuses(), ZoneInfo("Asia/Jakarta"), "http://status.example")


def run(coroutine):
    return asyncio.run(coroutine)


senders = st.one_of(written_phone().map(lambda p: p[0]), st.text(max_size=25))
sms_text = st.one_of(any_text, any_text.map(lambda t: f"SURGA {t}"))

# ------------------------------------------------------------------------------------------ SMS, any gateway


@given(st.sampled_from(["kannel", "generic", "gammu-modem1"]), st.text(min_size=1, max_size=300), senders, sms_text)
@example("kannel", "k" * 300, "081234567890", "SURGA lampu mati")  # Kannel's id has no length limit
@example("generic", "g" * 200, "081234567890", "SURGA lampu mati")  # at the generic webhook's limit
@example("kannel", "id\x00", "081234567890", "SURGA lampu mati")  # %00 in the query string
def test_an_sms_is_a_complaint_a_format_help_reply_or_refused(gateway, message_id, sender, text):
    kit = Kit()
    sms = InboundSms(gateway=gateway, message_id=message_id, sender=sender, text=text)
    try:
        answer = run(handle_sms(kit, sms, DESK))
    except InvalidText as error:
        assert error.reason in ("invalid_sender", "empty_text", "text_too_long")
        assert not kit.published and not kit.replies
        return
    phone = to_e164(sender)
    assert phone is not None
    if answer["complaint"]:
        [event] = kit.published
        storable(event)
        # A retry of the same SMS is the same complaint, however long the gateway's id.
        assert event.complaint_id == complaint_id_for("sms", f"{gateway}:{message_id}")
        assert answer["tracking_code"] == event.tracking_code
        assert event.reporter.phone == phone and event.channel == "sms"
        assert event.text == complaint_text(clean_text(text, 1600))
    else:
        [reply] = kit.replies
        assert not kit.published and reply.to == phone and reply.text == FORMAT_HELP
        assert complaint_text(text) is None or not text.strip()


def _request(method: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Request:
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body}

    scope = {"type": "http", "method": method, "path": "/kannel/inbound", "query_string": urlencode(query).encode(),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]}
    return Request(scope, receive)


kannel_params = st.fixed_dictionaries({}, optional={
    "id": st.text(max_size=60), "sender": senders, "receiver": st.text(max_size=10), "text": sms_text,
    "time": st.one_of(st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")), st.text(max_size=25))})
latin1 = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30)
kannel_headers = st.fixed_dictionaries({}, optional={
    "X-Kannel-From": latin1, "X-Kannel-To": latin1, "X-Kannel-Time": latin1,
    "X-Kannel-Charset": st.one_of(st.sampled_from(["utf-8", "latin-1", "UTF-16BE", "windows-1252"]), latin1)})


@given(st.sampled_from(["GET", "POST"]), kannel_params, kannel_headers, st.binary(max_size=200))
@example("POST", {"sender": "081234567890"}, {"X-Kannel-Charset": "no-such-charset"}, b"SURGA \xff lampu")
def test_kannel_requests_become_an_sms_or_a_refusal(method, query, headers, body):
    try:
        sms = run(kannel.parse(_request(method, query, headers, body), ZONE))
    except InvalidText as error:
        assert error.reason in ("missing_sender", "missing_text")
        return
    assert sms.gateway == "kannel" and sms.sender
    assert sms.received_at is None or sms.received_at.tzinfo is not None
    # The same delivery twice has the same message id, with or without Kannel's %I.
    again = run(kannel.parse(_request(method, query, headers, body), ZONE))
    assert again.message_id == sms.message_id
    try:
        run(handle_sms(Kit(), sms, DESK))
    except InvalidText:
        pass


@given(st.one_of(json_values, st.fixed_dictionaries({
    "message_id": st.one_of(st.text(max_size=210), json_scalars), "sender": st.one_of(senders, json_scalars),
    "text": st.one_of(sms_text, json_scalars)}, optional={
    "receiver": st.one_of(st.text(max_size=40), json_scalars),
    "received_at": st.one_of(st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat), json_scalars)})))
def test_generic_webhook_json_is_an_sms_or_a_validation_error(body):
    try:
        sms = GenericSms.model_validate_json(json.dumps(body)).inbound()
    except ValidationError:
        return  # 422 with the fields named
    try:
        run(handle_sms(Kit(), sms, DESK))
    except InvalidText:
        pass


# ------------------------------------------------------------------------------------------ Gammu inbox


class _Connection:
    """The parts of asyncpg the Gammu reader uses, over a list of inbox rows."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows, self.processed = rows, []

    def transaction(self):
        return self

    async def __aenter__(self):
        return self

    async def __aexit__(self, *_):
        return False

    async def fetch(self, _query, _limit):
        return self.rows

    async def execute(self, _query, ids):
        self.processed.extend(ids)


class _Pool:
    def __init__(self, conn: _Connection) -> None:
        self.conn = conn

    def acquire(self):
        return self.conn


gammu_rows = st.lists(st.fixed_dictionaries({
    "SenderNumber": st.one_of(written_phone().map(lambda p: p[0]), st.text(max_size=20)),  # varchar(20)
    # From 1970: a modem whose clock was reset; earlier Jakarta offsets had seconds, which JSON drops.
    "ReceivingDateTime": st.datetimes(min_value=datetime(1970, 1, 1)), "TextDecoded": sms_text,
    "RecipientID": st.text(max_size=10),
    "UDH": st.one_of(st.just(""), st.text("0123456789abcdef", max_size=24)),
    "Coding": st.sampled_from(["Default_No_Compression", "Unicode_No_Compression", "8bit"])}),
    max_size=5).map(lambda rows: [{"ID": index + 1, **row} for index, row in enumerate(rows)])


@given(gammu_rows)
def test_every_gammu_row_is_published_or_marked_with_a_reason(rows):
    kit = Kit()
    inbox = GammuInbox("unused", "modem1", ZONE, lambda sms: handle_sms(kit, sms, DESK))
    inbox.pool = _Pool(conn := _Connection(rows))
    # Nothing may escape poll_once: the poller task would die and the inbox would never be read again.
    assert run(inbox.poll_once()) == len(rows)
    assert sorted(conn.processed) == [row["ID"] for row in rows]
    assert len(kit.published) + len(kit.replies) <= len(rows)
    for event in kit.published:
        storable(event)
        assert event.received_at.tzinfo is not None


# ------------------------------------------------------------------------------------------ WhatsApp


wamids = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=_-", min_size=10, max_size=60).map(
    lambda s: f"wamid.{s}")
wa_numbers = written_phone().map(lambda p: p[1].removeprefix("+"))
timestamps = st.integers(min_value=1_500_000_000, max_value=2_000_000_000).map(str)
bodies = any_text  # blank ones too: those are not filed
media = st.fixed_dictionaries({"id": st.text("0123456789", min_size=5, max_size=20)}, optional={
    "mime_type": st.sampled_from(["image/jpeg", "application/pdf", "audio/ogg"]),
    "sha256": st.text("0123456789abcdef", min_size=64, max_size=64),
    "caption": st.text(max_size=200), "filename": st.text(max_size=50)})
locations = st.fixed_dictionaries({
    "latitude": st.floats(min_value=-90, max_value=90), "longitude": st.floats(min_value=-180, max_value=180)},
    optional={"name": st.text(max_size=50), "address": st.text(max_size=100)})


@st.composite
def wa_message(draw) -> dict:
    kind = draw(st.sampled_from(["text", "image", "document", "audio", "video", "sticker", "location"]))
    message = {"from": draw(wa_numbers), "id": draw(wamids), "timestamp": draw(timestamps), "type": kind}
    message[kind] = {"text": lambda: {"body": draw(bodies)}, "location": lambda: draw(locations)}.get(
        kind, lambda: draw(media))()
    return message


def payload(messages: list[dict], names: dict[str, str]) -> dict:
    contacts = [{"wa_id": wa_id, "profile": {"name": name}} for wa_id, name in names.items()]
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp", "contacts": contacts,
                                        "messages": messages, "statuses": []}}]}]}


def read(raw: bytes) -> tuple[list[ComplaintReceived], list[Unusable], int]:
    """What the webhook handler does with a signed body (services/intake/whatsapp/app.py, inbound.py): the
    complaints, the parts set aside, and how many parts there were."""
    events, unusable, count = [], [], 0
    for part in parts(Webhook.model_validate_json(raw)):
        count += 1
        if part.unusable:
            unusable.append(part.unusable)
        elif part.message and part.message.type in COMPLAINT_TYPES and (
                event := complaint_from(part.message, part.sender, "tests")):
            events.append(event)
    return events, unusable, count


def complaints_in(raw: bytes) -> list[ComplaintReceived]:
    return read(raw)[0]


@given(st.lists(wa_message(), min_size=1, max_size=5), st.dictionaries(wa_numbers, st.text(max_size=30), max_size=3))
def test_valid_whatsapp_payloads_give_one_complaint_per_message(messages, names):
    events = complaints_in(json.dumps(payload(messages, names)).encode())
    # Every photo, document, location is filed (a blank caption too); a text only when it has any; a
    # sticker never (it is answered with what we can take).
    filed = [m for m in messages if m["type"] != "sticker" and (m["type"] != "text" or _visible(m["text"]["body"]))]
    assert len(events) == len(filed)
    for message, event in zip(filed, events, strict=True):
        storable(event)
        assert event.channel == "whatsapp" and event.channel_message_id == message["id"]
        assert event.complaint_id == complaint_id_for("whatsapp", message["id"])
        assert event.received_at == datetime.fromtimestamp(int(message["timestamp"]), UTC)
        assert event.reporter.phone == to_e164(message["from"])
        name = names.get(message["from"])
        assert event.reporter.name == (name.replace("\x00", "") if name is not None else None)
        kind = message["type"]
        if kind == "text":
            assert event.text == clean_text(message["text"]["body"])
        elif kind == "location":
            assert event.location is not None and not event.attachments
            assert abs(event.location.latitude - message["location"]["latitude"]) < 1e-9
        else:
            [attachment] = event.attachments
            assert attachment.kind == kind and attachment.reference == f"whatsapp-media:{message[kind]['id']}"


def _visible(text: str) -> bool:
    try:
        clean_text(text)
    except InvalidText:
        return False
    return True


def _mutated(message: dict, path: tuple, value: object) -> dict:
    copy = json.loads(json.dumps(message))
    target = copy
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(target, dict) else target
    if isinstance(target, dict):
        target[path[-1]] = value
    return copy


FIELDS = [("id",), ("from",), ("timestamp",), ("type",), ("text",), ("text", "body"), ("image", "id"),
          ("image", "caption"), ("image", "filename"), ("image", "mime_type"), ("image", "sha256"),
          ("location", "latitude"), ("location", "longitude"), ("location", "name"), ("location", "address")]
odd_values = st.one_of(json_values, st.text(min_size=190, max_size=6000), st.just("\u0000"),
                       st.sampled_from([1e309, -1e309, 91.0, -181.0, "NaN", "99999999999999999999", "-1", "1e5"]))


@given(wa_message(), st.lists(st.tuples(st.sampled_from(FIELDS), odd_values), min_size=1, max_size=3),
       st.text(max_size=250))
@example({"from": "6281234567890", "id": "wamid.A", "timestamp": "1700000000", "type": "location",
          "location": {"latitude": 0, "longitude": 0}}, [(("location", "latitude"), 1e309)], "Budi")  # NaN/inf
@example({"from": "6281234567890", "id": "wamid.A", "timestamp": "1700000000", "type": "text",
          "text": {"body": "lampu mati"}}, [(("timestamp",), "kemarin")], "Budi")
@example({"from": "6281234567890", "id": "wamid.A", "timestamp": "1700000000", "type": "text",
          "text": {"body": "lampu mati"}}, [(("id",), "w" * 201)], "Budi")
@example({"from": "6281234567890", "id": "wamid.A", "timestamp": "1700000000", "type": "image",
          "image": {"id": "1"}}, [(("image", "caption"), "c" * 3001)], "Budi")
@example({"from": "6281234567890", "id": "wamid.A", "timestamp": "1700000000", "type": "text",
          "text": {"body": "lampu mati"}}, [(("id",), "x")], "B\u0000udi")
def test_any_whatsapp_json_is_complaints_or_a_clear_error(message, mutations, name):
    for path, value in mutations:
        message = _mutated(message, path, value)
    body = payload([message], {message.get("from") if isinstance(message.get("from"), str) else "x": name})
    raw = json.dumps(body, allow_nan=True).encode()
    try:
        events, unusable, count = read(raw)
    except ValidationError as error:
        assert error.errors()  # 400 "not a WhatsApp webhook payload: <field>: <why>"
        return
    # The one message is never silently dropped and never an exception: it is used or set aside with why.
    assert count == 1
    for event in events:
        storable(event)
    for part in unusable:
        assert part.reason and part.part == "message"


@given(json_values)
def test_arbitrary_json_is_never_a_crash(value):
    try:
        complaints_in(json.dumps(value).encode())
    except ValidationError:
        pass


# ------------------------------------------------------------------------------------------ web form

form_fields = st.fixed_dictionaries({"text": st.one_of(any_text, st.text(min_size=4990, max_size=5000))}, optional={
    "name": st.text(max_size=250), "phone": senders, "email": st.one_of(st.emails(), st.text(max_size=30)),
    "anonymity": st.sampled_from(["", "none", "anonim", "rahasia", "x"]),
    "kelurahan": st.one_of(st.sampled_from(["", "Setono Gedong", "setonogedong", "Tegalsari"]), st.text(max_size=30)),
    "address": st.one_of(st.text(max_size=100), st.text(min_size=290, max_size=400), st.just("\x00")),
    "latitude": st.one_of(st.floats().map(str), st.text(max_size=10)),
    "longitude": st.one_of(st.floats().map(str), st.text(max_size=10)),
    "submission_id": st.one_of(st.uuids().map(str), st.text(max_size=40))})


@given(form_fields)
@example({"text": "lampu jalan mati " * 294, "address": "Jl. Dhoho " * 30})  # 4,998 + 300 characters
@example({"text": "lampu jalan mati di depan rumah", "address": "\x00"})
@example({"text": "lampu jalan mati di depan rumah", "address": "a" * 301})
@example({"text": "lampu jalan mati di depan rumah", "kelurahan": "<script>"})
def test_a_web_form_is_a_complaint_or_errors_to_show(fields):
    submission = run(read_submission(FormData(list(fields.items()))))
    if submission.errors:
        assert all(isinstance(message, str) and message for message in submission.errors.values())
        return
    # As the handler builds it (services/intake/web/app.py).
    event = ComplaintReceived.new(
        channel="web", channel_message_id=scoped("form", submission.submission_id, submission.text,
                                                 submission.reporter, submission.anonymity, submission.location,
                                                 submission.place),
        text=submission.text,
        producer="tests", anonymity=submission.anonymity, reporter=submission.reporter,
        location=submission.location, place=submission.place)
    storable(event)
    assert len(event.text) <= MAX_TEXT
    assert event.place is None or event.place.kelurahan is None or event.place.kecamatan  # ours, with its kecamatan


@given(st.sampled_from([(b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
                        (b"RIFF\x00\x00\x00\x00WEBP", "image/webp")]), st.binary(max_size=64))
def test_a_photo_is_known_by_its_first_bytes(signature, rest):
    header, mime = signature
    assert photo_type(header + rest) == mime


@given(st.binary(max_size=64))
def test_photo_type_never_guesses(data):
    # Whatever the browser claims: only a real JPEG, PNG or WebP header is a photo.
    mime = photo_type(data)
    assert mime is None or data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP")


# ------------------------------------------------------------------------------------------ rule and unit files

RULES = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
UNITS = yaml.safe_load(DEFAULT_UNITS_FILE.read_text())
REGISTRY = parse_registry(DEFAULT_UNITS_FILE.read_bytes(), DEFAULT_UNITS_FILE)
yaml_values = st.recursive(st.one_of(json_scalars, st.dates()), lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), inner, max_size=3)),
    max_leaves=6)
RULE_KEYS = ["id", "unit", "any", "all", "none", "patterns", "channels", "categories", "description", 7, "extra"]


@given(st.integers(min_value=0, max_value=len(RULES["rules"]) - 1), st.sampled_from(RULE_KEYS), yaml_values,
       st.sampled_from(RULE_KEYS), yaml_values)
@example(0, 7, "x", "extra", "y")  # two unknown keys of different types: sorting them raised TypeError
@settings(max_examples=60)  # each example compiles the whole rule set
def test_any_edit_of_the_rules_file_loads_or_says_why(index, key, value, key2, value2):
    data = json.loads(json.dumps(RULES))
    data["rules"][index][key] = value
    data["rules"][index][key2] = value2
    try:
        rules = parse_rules(yaml.safe_dump(data, allow_unicode=True).encode(), Path("rules.yaml"), REGISTRY)
    except RuleSetError as error:
        assert str(error).startswith("rules.yaml")
        return
    assert len(rules) == len(RULES["rules"])


@given(st.binary(max_size=300))
def test_any_bytes_as_the_rules_file_load_or_say_why(raw):
    try:
        parse_rules(raw, Path("rules.yaml"), REGISTRY)
    except RuleSetError:
        pass


@given(st.one_of(st.just(None), st.integers(min_value=0, max_value=len(UNITS["units"]) - 1)),
       st.sampled_from(["code", "name", "email", "head_email", "webhook_url", "deadlines", "fallback", "units",
                        "defaults", 3]), yaml_values)
def test_any_edit_of_the_units_file_loads_or_says_why(index, key, value):
    data = json.loads(json.dumps(UNITS))
    (data if index is None else data["units"][index])[key] = value
    try:
        parse_registry(yaml.safe_dump(data, allow_unicode=True).encode(), Path("units.yaml"))
    except RegistryError as error:
        assert str(error).startswith("units.yaml")


@pytest.mark.parametrize("raw", [b"", b"rules: 5", b"- a\n- b", b"\xff\xfe", b"rules: [{id: x}]"])
def test_malformed_rules_files_are_refused_with_a_reason(raw):
    with pytest.raises(RuleSetError):
        parse_rules(raw, Path("rules.yaml"), REGISTRY)
