"""What the notifier sends: the citizen's acknowledgement and answers (SMS, WhatsApp), the unit's webhook."""

from __future__ import annotations

from services.notifier.messages import (
    citizen_ack_text,
    citizen_status_template_parameters,
    citizen_status_text,
    status_link,
    unit_webhook_payload,
)
from shared.contracts import ComplaintStatus
from tests.support import events


def test_citizen_ack_fits_an_sms_and_names_the_code():
    assigned = events.assigned("Lampu jalan mati", channel="sms")
    text = citizen_ack_text(assigned, status_link("https://surga.kedirikota.go.id", assigned.tracking_code))
    assert assigned.tracking_code in text and "SURGA CEK" in text
    assert len(text) <= 300  # two SMS parts at most


def test_a_long_answer_reaches_a_phone_as_one_gsm_line_cut_short():
    assigned = events.assigned("SURGA lampu jalan mati", channel="sms")
    change = events.status_changed(assigned, ComplaintStatus.RESPONDED, 2, "Lampu diganti.\n\n" + "Terima kasih. " * 80)
    text = citizen_status_text(change, status_link("https://surga.kedirikota.go.id", assigned.tracking_code))
    assert "\n" not in text and "Lampu diganti. Terima kasih." in text and "... Bila belum sesuai" in text
    assert "…" not in text and len(text) < 640  # GSM-7 (no ellipsis), at most five SMS parts
    [_, status, message, _] = citizen_status_template_parameters(change)
    assert status == "ditanggapi" and "\n" not in message and "  " not in message and len(message) <= 700


def test_unit_webhook_never_carries_the_citizens_contact():
    payload = unit_webhook_payload(events.assigned(anonymity=events.Anonymity.RAHASIA))
    assert "citizen_contact" not in payload and payload["reporter_for_unit"] is None
