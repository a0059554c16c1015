"""What the notifier makes of an outgoing SMS: its coding and parts, and the gateway it leaves by."""

from __future__ import annotations

import pytest

from services.notifier.outbound import Outbound
from services.notifier.settings import NotifierSettings
from services.notifier.sms_text import SmsText
from shared.contracts import reply_gateway_of
from tests.support import events


@pytest.mark.parametrize(("text", "unicode", "sizes"), [
    ("SURGA: aduan ABCDE-12345 diterima.", False, [34]),
    ("a" * 160, False, [160]),
    ("a" * 161, False, [153, 8]),
    ("€" * 80, False, [80]),  # 160 septets: each € takes two
    ("€" * 81, False, [76, 5]),  # never cut between ESC and its character
    ("Jum’at", True, [6]),
    ("😡" * 35, True, [35]),  # 70 UTF-16 units
    ("😡" * 36, True, [33, 3]),  # 67 units a part, never half an emoji
])
def test_coding_and_parts(text, unicode, sizes):
    sms = SmsText.of(text)
    assert sms.unicode is unicode
    parts = sms.parts()
    assert [len(part) for part in parts] == sizes and "".join(parts) == text


@pytest.mark.parametrize(("gateways", "came_by", "leaves_by"), [
    (["kannel"], "kannel", "kannel"),
    (["kannel", "gammu"], "gammu-modem1", "gammu"),
    (["kannel", "gammu"], "generic", "kannel"),  # not run here: the city's first gateway
    (["gammu", "kannel"], None, "gammu"),  # a web complaint has no SMS gateway
    (["generic"], "kannel", "generic"),
])
def test_an_answer_leaves_by_the_gateway_the_sms_came_by(gateways, came_by, leaves_by):
    settings = NotifierSettings(sms_gateways=gateways, gammu_database_url="postgresql://unused/gammu")
    assert Outbound(settings).sms_gateway_for(came_by) == leaves_by


def test_the_assignment_names_the_gateway_an_sms_complaint_came_by():
    assert reply_gateway_of("sms", "gammu-modem1:17-20261127093000") == "gammu-modem1"
    assert reply_gateway_of("web", "web:abc") is None
    by_sms = events.received("Lampu jalan mati", channel="sms", message_id="kannel:k-1")
    assert events.assignment_for(by_sms).reply_gateway == "kannel"
    assert events.assignment_for(events.received("Lampu jalan mati")).reply_gateway is None
