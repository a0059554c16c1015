from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from shared import contracts
from shared.contracts import (
    Channel,
    ComplaintAssigned,
    ComplaintReceived,
    complaint_id_for,
    normalise_tracking_code,
    tracking_code_for,
)
from tests.support import events


def test_complaint_id_is_deterministic_per_channel_and_message():
    # The same in every process and version: a gateway's retry after an upgrade is still the same complaint.
    assert complaint_id_for("sms", "gw-42") == "e3d28bb6-0280-570c-8668-7cffaf5c57a7"
    assert complaint_id_for("sms", "gw-42") == complaint_id_for(Channel.SMS, "gw-42")
    assert complaint_id_for("sms", "gw-42") != complaint_id_for("whatsapp", "gw-42")
    assert complaint_id_for("sms", "gw-42") != complaint_id_for("sms", "gw-43")


@pytest.mark.parametrize("bad", ["", "Fax", "fax machine", "x", "9sms"])
def test_malformed_channel_names_are_refused(bad):
    with pytest.raises(ValueError):
        complaint_id_for(bad, "1")


def test_a_new_channel_needs_no_contract_change():
    event = events.received(channel="telegram")
    assert event.channel == "telegram" and event.complaint_id == complaint_id_for("telegram", event.channel_message_id)


def test_tracking_code_is_short_typeable_and_stable():
    codes = {tracking_code_for(complaint_id_for("web", str(n))) for n in range(5000)}
    assert len(codes) == 5000  # no collision in a year's worth of complaints
    for code in list(codes)[:200]:
        assert len(code) == 11 and code[5] == "-"
        assert not set(code) & set("ILOU")  # no letters that read as digits


def test_tracking_codes_are_the_same_wherever_the_key_is_shared(monkeypatch):
    """Every intake and replica holds ADUAN_TRACKING_CODE_KEY: a retried message gets its code again
    wherever it lands, and a code depends on the key (without it, nobody can compute codes)."""
    cid = complaint_id_for("web", "x")
    monkeypatch.setattr(contracts, "tracking_code_key", lambda: b"test-tracking-code-key")
    assert tracking_code_for(cid) == "XPTTQ-PDT41"
    monkeypatch.setattr(contracts, "tracking_code_key", lambda: b"another-key")
    assert tracking_code_for(cid) == "CTJ36-CA9QE"


@pytest.mark.parametrize("typed", ["{c}", "{l}", "{l_nodash}", " {c_spaced} "])
def test_typed_tracking_code_normalises(typed):
    code = tracking_code_for(complaint_id_for("web", "normalise"))
    variants = {"c": code, "l": code.lower(), "l_nodash": code.lower().replace("-", ""),
                "c_spaced": code.replace("-", " ")}
    assert normalise_tracking_code(typed.format(**variants)) == code


def test_letter_o_and_i_are_read_as_digits():
    assert normalise_tracking_code("abcde-o1i2l") == "ABCDE-01121"


@pytest.mark.parametrize("bad", ["", "ABC", "ABCDE-1234", "ABCDE-123456", "ABCDE-1234U"])
def test_malformed_tracking_codes_are_rejected(bad):
    assert normalise_tracking_code(bad) is None


def test_envelope_requires_a_time_zone():
    event = events.received()
    data = event.model_dump()
    data["occurred_at"] = datetime(2026, 1, 1, 8, 0)  # naive
    with pytest.raises(ValidationError, match="time zone"):
        ComplaintReceived.model_validate(data)


def test_events_round_trip_through_json_with_their_envelope():
    received = events.received()
    again = ComplaintReceived.model_validate_json(received.model_dump_json())
    assert again == received
    assert again.event_type == "complaint.received" and again.schema_version == 1
    assert again.correlation_id == again.complaint_id
    assigned = events.assigned()
    assert ComplaintAssigned.model_validate_json(assigned.model_dump_json()) == assigned


def test_empty_complaint_text_is_refused():
    with pytest.raises(ValidationError):
        events.received("")
