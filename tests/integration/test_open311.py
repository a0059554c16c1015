"""Open311 GeoReport v2 on the web intake, a real process on the real broker and database, read by an
independent client (the `georeport` package from PyPI: requests and xmltodict, XML and JSON).

The POSTs are the spec's own example request (wiki.open311.org/GeoReport_v2, "POST Service Request"), with its
fields and encoding, and our service code and place; georeport cannot file requests.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode
from xml.etree.ElementTree import fromstring

import httpx
import pytest
from georeport import GeoReport

from shared.categories import categories
from tests.support.kafka import json_values, read_all, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

API_KEY = "civic-app-key-0123456789"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
# The spec's example POST, field for field; values of Kota Kediri.
SPEC_EXAMPLE = {
    "api_key": API_KEY, "jurisdiction_id": "kedirikota.go.id", "service_code": "pungli", "lat": "-7.8166",
    "long": "112.0119", "address_string": "Jl. Dhoho 12, Kediri", "email": "budi.santoso@example.org",
    "device_id": "tt222111", "account_id": "123456", "first_name": "Budi", "last_name": "Santoso",
    "phone": "081234567890", "description": "Petugas loket meminta uang 150rb agar SPPT cepat dicetak",
    "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
    "attribute[anonimitas]": "rahasia", "attribute[kelurahan]": "Bandar Lor"}
IDENTITY = ("Budi", "Santoso", "budi.santoso", "81234567890", "tt222111", "123456", "flickr", API_KEY)


@pytest.fixture
def web(processes):
    return processes.start("web", "services.intake.web", "ADUAN_WEB_PORT",
                           {"ADUAN_WEB_OPEN311_API_KEYS": json.dumps({"civic-app": API_KEY})})


def client(web, fmt: str) -> GeoReport:
    return GeoReport(f"{web.url}/open311/v2", jurisdiction="kedirikota.go.id", output_format=fmt)


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_an_open311_client_reads_our_categories_as_services_and_their_attributes(web, fmt):
    services = await asyncio.to_thread(client(web, fmt).get_service_list)
    assert [s["service_code"] for s in services] == list(categories())
    assert {(str(s["metadata"]).lower(), s["type"]) for s in services} == {("true", "realtime")}
    definition = await asyncio.to_thread(client(web, fmt).get_service_definition, "pajak-retribusi")
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert definition["service_code"] == "pajak-retribusi"
    assert [a["code"] for a in attributes] == ["anonimitas", "kelurahan"]


async def test_a_complaint_filed_by_open311_reaches_kafka_and_reads_back_without_its_reporter(web, infra, topics):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        answer = await http.post("/open311/v2/requests.xml", content=urlencode(SPEC_EXAMPLE), headers=FORM)
        assert (answer.status_code, answer.headers["content-type"]) == (201, "text/xml; charset=utf-8")
        assert answer.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
        request = fromstring(answer.content).find("request")
        code = request.findtext("service_request_id")
        assert "Tidak disimpan: media_url, device_id, account_id" in request.findtext("service_notice")
        # A second complaint, JSON this time, a reporter who hides nothing and no place.
        plain = {"api_key": API_KEY, "service_code": "layanan-digital",
                 "description": "Wifi publik di Taman Sekartaji tidak bisa tersambung sejak Senin"}
        other = await http.post("/open311/v2/requests.json", content=urlencode(plain), headers=FORM)
        assert other.status_code == 201
        other_code = other.json()[0]["service_request_id"]

    # 201 means Kafka holds it: the complaint as the router will read it.
    records = await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= 2, timeout=10)
    event = next(e for e in json_values(records) if e["tracking_code"] == code)
    assert (event["channel"], event["category"], event["anonymity"]) == ("web", "pungli", "rahasia")
    assert event["place"] == {"kelurahan": "Bandar Lor", "kecamatan": "Mojoroto", "street": "Jl. Dhoho 12, Kediri"}
    assert (event["location"]["latitude"], event["location"]["longitude"]) == (-7.8166, 112.0119)
    raw = next(r.value.decode() for r in records if code in r.value.decode())
    assert not [word for word in IDENTITY if word in raw]  # rahasia: sealed for the notifier, nothing plain

    for fmt in ("json", "xml"):
        read = await asyncio.to_thread(client(web, fmt).get_service_request, code)
        assert (read["service_request_id"], read["status"], read["service_code"]) == (code, "open", "pungli")
        assert read["requested_datetime"].endswith("+07:00")
        both = await asyncio.to_thread(client(web, fmt).get_service_requests, f"{other_code},{code},AAAAA-AAAAA")
        assert sorted(r["service_request_id"] for r in both) == sorted([code, other_code])
        assert {r["service_code"] for r in both} == {"pungli", "layanan-digital"}
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        published = (await http.get(f"/open311/v2/requests/{code}.json")).text
    assert not [word for word in IDENTITY + ("Dhoho", "SPPT", "112.0119") if word in published]
    log = web.log()
    assert "open311_request_accepted" in log and not [word for word in IDENTITY if word in log]


async def test_a_retry_with_the_same_idempotency_key_is_the_same_request(web):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        body = urlencode({"api_key": API_KEY, "service_code": "hoaks",
                          "description": "Ada akun WhatsApp mengaku Wali Kota minta transfer uang"})
        first = await http.post("/open311/v2/requests.json", content=body, headers={**FORM, "Idempotency-Key": "a1"})
        again = await http.post("/open311/v2/requests.json", content=body, headers={**FORM, "Idempotency-Key": "a1"})
        fresh = await http.post("/open311/v2/requests.json", content=body, headers=FORM)
    codes = [r.json()[0]["service_request_id"] for r in (first, again, fresh)]
    assert codes[0] == codes[1] != codes[2]


REFUSALS = [
    ("POST", "/open311/v2/requests.json", {**SPEC_EXAMPLE, "api_key": ""}, 403, "api_key missing"),
    ("POST", "/open311/v2/requests.json", {**SPEC_EXAMPLE, "api_key": "guessed"}, 403, "Invalid api_key"),
    ("POST", "/open311/v2/requests.xml", {**SPEC_EXAMPLE, "service_code": "001"}, 404, "service_code not found"),
    ("POST", "/open311/v2/requests.json", {**SPEC_EXAMPLE, "service_code": ""}, 400, "service_code was not"),
    ("POST", "/open311/v2/requests.json", {**SPEC_EXAMPLE, "jurisdiction_id": "city.gov"}, 404, "jurisdiction_id"),
    ("POST", "/open311/v2/requests.json", {**SPEC_EXAMPLE, "long": ""}, 400, "lat and long"),
    ("POST", "/open311/v2/requests.json", {**SPEC_EXAMPLE, "attribute[WHISPAWN]": "123456"}, 400, "unknown attribute"),
    ("POST", "/open311/v2/requests.json", {**SPEC_EXAMPLE, "description": "x"}, 400, "description is required"),
    ("POST", "/open311/v2/requests.yaml", SPEC_EXAMPLE, 404, "unknown format"),
    ("GET", "/open311/v2/requests.json", None, 400, "service_request_id is required"),
    ("GET", "/open311/v2/requests/AAAAA-AAAAA.json", None, 404, "not found"),
    ("GET", "/open311/v2/services/001.xml", None, 404, "service_code not found"),
    ("GET", "/open311/v2/services.json?jurisdiction_id=sfgov.org", None, 404, "jurisdiction_id"),
    ("GET", "/open311/v2/tokens/12345.json", None, 404, "no tokens"),
]


async def test_refusals_are_open311_errors_with_the_status_and_nothing_is_published(web, infra, topics):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        for method, path, body, status, words in REFUSALS:
            answer = await http.request(method, path, content=urlencode(body) if body else None, headers=FORM)
            errors = (answer.json() if not path.endswith(".xml") else
                      [{"code": int(e.findtext("code")), "description": e.findtext("description")}
                       for e in fromstring(answer.content).findall("error")])
            assert answer.status_code == status, (path, answer.text)
            assert errors[0]["code"] == status and words in errors[0]["description"], (path, errors)
        as_json = await http.post("/open311/v2/requests.json", json=SPEC_EXAMPLE)
        assert as_json.status_code == 400 and "x-www-form-urlencoded" in as_json.json()[0]["description"]
        assert (await http.get("/open311/v2/services.json")).status_code == 200  # still serving
    assert await read_all(infra.kafka_bootstrap, topics.received) == []


async def test_each_client_has_its_own_rate_limit(processes):
    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT", {
        "ADUAN_WEB_OPEN311_API_KEYS": json.dumps({"civic-app": API_KEY, "other-app": "other-key-0123456789"}),
        "ADUAN_WEB_OPEN311_BURST": "2", "ADUAN_WEB_OPEN311_REQUESTS_PER_MINUTE": "0.5"})
    body = {"service_code": "lainnya", "description": "Jalan di depan SDN Bandar Lor 2 berlubang besar"}
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        answers = [await http.post("/open311/v2/requests.json", content=urlencode({**body, "api_key": API_KEY}),
                                   headers=FORM) for _ in range(3)]
        other = await http.post("/open311/v2/requests.json",
                                content=urlencode({**body, "api_key": "other-key-0123456789"}), headers=FORM)
    assert [a.status_code for a in answers] == [201, 201, 429] and int(answers[2].headers["Retry-After"]) > 0
    assert other.status_code == 201
