"""Open311 on the web intake, its pure parts: reading a POST's form, and writing what clients read."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree.ElementTree import fromstring

import pytest
from starlette.datastructures import FormData

from services.intake.web.open311 import (
    Refused,
    _render,
    complaint_from,
    notice,
    request_entry,
    service_definition,
    service_entry,
)
from services.intake.web.status import ComplaintStatusView
from shared.categories import categories
from shared.contracts import Anonymity

PUNGLI = categories()["pungli"]


def form(**fields: str | list[str]) -> FormData:
    items = [(k, v) for k, values in fields.items() for v in (values if isinstance(values, list) else [values])]
    return FormData(items)


def test_a_full_request_becomes_a_complaint_and_the_fields_not_kept_are_named():
    event, not_kept = complaint_from(form(**{
        "description": "Petugas loket minta uang 100rb agar berkas cepat selesai", "first_name": " Budi ",
        "last_name": "Santoso", "email": "Budi@Example.org", "phone": "0812-3456-7890", "lat": "-7.8166",
        "long": "112.0119", "address_string": "Jl. Dhoho 1", "media_url": "http://example.org/p.jpg",
        "device_id": "tt222111", "account_id": "123456", "attribute[anonimitas]": "rahasia",
        "attribute[kelurahan]": "bandar lor"}), PUNGLI, "civic-app", "key-1")
    assert event.category == "pungli" and event.anonymity is Anonymity.RAHASIA
    # Rahasia: the intake keeps the contact sealed for the notifier alone, and no name travels.
    assert event.reporter.name is event.reporter.email is event.reporter.phone is None
    assert event.sealed_contact is not None and "Budi" not in event.model_dump_json()
    assert (event.location.latitude, event.location.longitude) == (-7.8166, 112.0119)
    assert (event.place.kelurahan, event.place.kecamatan, event.place.street) == ("Bandar Lor", "Mojoroto",
                                                                                  "Jl. Dhoho 1")
    assert not_kept == ["media_url", "device_id", "account_id"]
    assert "tt222111" not in event.model_dump_json() and "123456" not in event.model_dump_json()
    assert "media_url, device_id, account_id" in notice(not_kept)


def test_a_reporter_who_hides_nothing_is_named_as_first_and_last_name():
    event, _ = complaint_from(form(description="Undangan peresmian untuk Bapak Wali Kota", first_name=" Siti ",
                                   last_name=" Aminah  Z ", phone="081234567890"), PUNGLI, "civic-app", None)
    assert (event.anonymity, event.reporter.name, event.reporter.phone) == (
        Anonymity.NONE, "Siti Aminah Z", "+6281234567890")


def test_the_same_key_and_content_is_the_same_complaint_and_another_client_is_not():
    fields = {"description": "Lampu penerangan jalan di Jl. Brawijaya mati sejak seminggu"}
    first, _ = complaint_from(form(**fields), PUNGLI, "civic-app", "k1")
    again, _ = complaint_from(form(**fields), PUNGLI, "civic-app", "k1")
    other_client, _ = complaint_from(form(**fields), PUNGLI, "other-app", "k1")
    no_key, _ = complaint_from(form(**fields), PUNGLI, "civic-app", None)
    assert first.complaint_id == again.complaint_id
    assert len({first.complaint_id, other_client.complaint_id, no_key.complaint_id}) == 3


@pytest.mark.parametrize(("fields", "words"), [
    ({"description": ""}, "description is required"),
    ({"description": "   pendek  "}, "description is required"),
    ({"description": "\x00\x01\x02" * 5}, "description"),
    ({"lat": "-7.8"}, "lat and long"),
    ({"lat": "nan", "long": "112"}, "lat and long"),
    ({"lat": "-7.8", "long": "inf"}, "lat and long"),
    ({"lat": "95", "long": "112"}, "lat and long"),
    ({"email": "bukan email"}, "email"),
    ({"phone": "12"}, "phone"),
    ({"attribute[anonimitas]": "rahasia sekali"}, "anonimitas"),
    ({"attribute[kelurahan]": "Menteng"}, "kelurahan"),
    ({"attribute[WHISPAWN]": "123456"}, "unknown attribute"),
    ({"attribute[anonimitas][]": ["anonim", "rahasia"]}, "one value"),
])
def test_what_cannot_be_taken_is_refused_with_400_and_says_why(fields, words):
    fields = {"description": "Lampu penerangan jalan mati sejak seminggu", **fields}
    with pytest.raises(Refused) as refused:
        complaint_from(form(**fields), PUNGLI, "civic-app", None)
    assert refused.value.status == 400 and words in refused.value.description


def view(status: str, category: str | None) -> ComplaintStatusView:
    at = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
    return ComplaintStatusView(tracking_code="ABCDE-12345", complaint_id="c", channel="web", status=status,
                               description="Aduan selesai ditindaklanjuti oleh Inspektorat.",
                               unit_code="inspektorat", unit_name="Inspektorat Kota Kediri", received_at=at,
                               status_at=at, updated_at=at, history=[], category=category)


@pytest.mark.parametrize(("status", "category", "expected"), [
    ("selesai", "pungli", ("closed", "pungli")), ("ditutup", None, ("closed", "lainnya")),
    ("diproses", "bukan-kode", ("open", "lainnya")), ("dikembalikan", "hoaks", ("open", "hoaks")),
])
def test_a_complaint_reads_as_open_or_closed_and_under_its_category_or_lainnya(status, category, expected):
    entry = request_entry(view(status, category))
    assert (entry["status"], entry["service_code"]) == expected
    assert entry["requested_datetime"] == "2026-11-30T08:02:03+07:00"  # WIB, with its offset
    assert entry["description"] is entry["address"] is entry["lat"] is entry["long"] is None


def test_xml_is_the_json_by_the_spark_convention_and_never_carries_a_character_xml_cannot():
    definition = service_definition(PUNGLI)
    xml = fromstring(_render("xml", "service_definition", None, definition).body)
    assert xml.tag == "service_definition" and xml.findtext("service_code") == "pungli"
    attributes = xml.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["anonimitas", "kelurahan"]
    assert [v.findtext("key") for v in attributes[0].findall("values/value")] == ["none", "anonim", "rahasia"]
    assert attributes[0].findtext("required") == "false" and attributes[0].findtext("order") == "1"
    assert len(attributes[1].findall("values/value")) == 46  # every kelurahan of the city
    odd = {**service_entry(PUNGLI), "description": "a\x01b & <c>"}
    services = fromstring(_render("xml", "services", "service", [odd]).body)
    assert services.findtext("service/description") == "ab & <c>"
    assert services.findtext("service/metadata") == "true"
