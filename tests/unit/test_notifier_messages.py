"""What the notifier sends: the citizen's acknowledgement and answers (SMS, WhatsApp), the unit's webhook."""

from __future__ import annotations

from services.notifier.messages import (
    citizen_ack_text,
    citizen_status_template_parameters,
    citizen_status_text,
    status_link,
    unit_assignment_email,
    unit_webhook_payload,
)
from shared.contracts import ComplaintStatus, Location, Place
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


def test_the_units_mail_names_the_kelurahan_the_landmark_and_links_the_pin_on_openstreetmap():
    chosen = Place(kelurahan="Bandar Lor", kecamatan="Mojoroto", street="gang 3 depan masjid")
    assigned = events.assigned("Lampu jalan mati", place=chosen).model_copy(
        update={"location": Location(latitude=-7.8166, longitude=112.0112)})
    mail = unit_assignment_email(assigned, mail_from="aduan@kedirikota.go.id", message_id="<m@x>", link="https://x")
    body = mail.get_content()
    assert "Wilayah      : Kel. Bandar Lor, Kec. Mojoroto" in body and "Patokan      : gang 3 depan masjid" in body
    assert "https://www.openstreetmap.org/?mlat=-7.816600&mlon=112.011200#map=18/-7.816600/112.011200" in body
    by_sms = unit_assignment_email(events.assigned("SURGA lampu mati di kec. pesantren", channel="sms"),
                                   mail_from="aduan@kedirikota.go.id", message_id="<m@x>", link="https://x")
    assert "Wilayah      : Kec. Pesantren\n" in by_sms.get_content() and "Peta" not in by_sms.get_content()
