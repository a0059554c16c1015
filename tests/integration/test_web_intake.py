"""The web intake's API as a real process on the real broker and database."""

from __future__ import annotations

import httpx
import pytest

from tests.support.kafka import json_values, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def web(processes):
    return processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")


async def test_accepted_complaint_is_in_kafka_and_on_the_status_page_at_once(web, infra, topics):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        answer = await http.post("/api/v1/complaints", json={"text": "Lampu jalan di Jl. Dhoho mati sejak seminggu"})
        assert answer.status_code == 202
        accepted = answer.json()
        # 202 means Kafka already holds it: read it back.
        records = await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= 1, timeout=5)
        assert [v["complaint_id"] for v in json_values(records)] == [accepted["complaint_id"]]
        status = await http.get(accepted["status_url"])
        assert status.status_code == 200 and status.json()["status"] == "diterima"


async def test_category_is_a_public_category_code(web, infra, topics):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        free_text = await http.post("/api/v1/complaints", json={"text": "Lampu jalan mati sejak seminggu",
                                                                 "category": "jalan rusak"})
        assert (free_text.status_code, free_text.json()["reason"]) == (422, "unknown_category")
        assert "pajak-retribusi" in free_text.json()["detail"]  # the refusal lists the codes to choose from
        known = await http.post("/api/v1/complaints", json={"text": "Petugas minta uang 50rb tanpa kuitansi",
                                                             "category": " Pungli "})
        assert known.status_code == 202
    records = await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= 1, timeout=5)
    assert [v["category"] for v in json_values(records)] == ["pungli"]


async def test_retry_with_the_same_idempotency_key_is_the_same_complaint(web):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        body = {"text": "Saluran air depan pasar mampet dan banjir tiap hujan"}
        first = await http.post("/api/v1/complaints", json=body, headers={"Idempotency-Key": "form-123"})
        second = await http.post("/api/v1/complaints", json=body, headers={"Idempotency-Key": "form-123"})
        other = await http.post("/api/v1/complaints", json=body)
    assert first.json()["complaint_id"] == second.json()["complaint_id"] != other.json()["complaint_id"]


@pytest.mark.parametrize(("body", "field"), [
    ({"text": "pendek"}, "text"),
    ({"text": "Lampu jalan mati sejak seminggu", "email": "bukan-email"}, "email"),
    ({"text": "Lampu jalan mati sejak seminggu", "anonymity": "rahasia sekali"}, "anonymity"),
])
async def test_invalid_complaints_get_422_naming_the_field(web, body, field):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        answer = await http.post("/api/v1/complaints", json=body)
    assert answer.status_code == 422
    assert field in {str(error["loc"][-1]) for error in answer.json()["detail"]}


async def test_invalid_phone_and_unknown_or_malformed_codes(web):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        phone = await http.post("/api/v1/complaints", json={"text": "Lampu jalan mati sejak seminggu", "phone": "12"})
        assert (phone.status_code, phone.json()["reason"]) == (422, "invalid_phone")
        assert (await http.get("/api/v1/complaints/not-a-code")).status_code == 400
        assert (await http.get("/api/v1/complaints/AAAAA-AAAAA")).status_code == 404
