"""Re-assignment by operators and units, authenticated, against the real broker and database."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support import events
from tests.support.kafka import events_of, publish_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
OPERATOR = {"Authorization": "Bearer op-secret"}
BPPKAD = {"Authorization": "Bearer bppkad-secret"}
HUKUM = {"Authorization": "Bearer hukum-secret"}


@pytest.fixture
def router(processes):
    return processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"ani": "op-secret"}),
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps({"bppkad": "bppkad-secret", "hukum": "hukum-secret"})})


async def assigned_events(infra, topics, complaint_id: str, count: int) -> list[dict]:
    return await events_of(infra.kafka_bootstrap, topics.assigned, complaint_id, count)


@pytest.fixture
async def complaint(router, infra, topics):
    event = events.received("SURGA nama di SPPT PBB masih atas nama pemilik lama")
    await publish_events(infra.kafka_bootstrap, topics.received, [event])
    [first] = await assigned_events(infra, topics, event.complaint_id, 1)
    assert first["unit"]["code"] == "bppkad"
    return event


async def test_operator_reassigns_and_a_new_assignment_event_is_published(router, complaint, infra, topics):
    async with httpx.AsyncClient(base_url=router.url) as http:
        answer = await http.post(f"/api/v1/complaints/{complaint.tracking_code}/reassign", headers=OPERATOR,
                                 json={"unit": "hukum", "reason": "Menyangkut sengketa waris"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["published"] is True
        history = (await http.get(f"/api/v1/complaints/{complaint.complaint_id}/assignments",
                                  headers=OPERATOR)).json()
    first, second = await assigned_events(infra, topics, complaint.complaint_id, 2)
    assert (second["sequence"], second["unit"]["code"], second["rule_id"]) == (2, "hukum", "manual")
    assert (second["assigned_by"], second["reason"]) == ("operator:ani", "Menyangkut sengketa waris")
    assert second["assignment_id"] != first["assignment_id"]
    assert [(h["sequence"], h["unit_code"], h["rule_id"]) for h in history] == \
        [(1, "bppkad", "bppkad-pajak-daerah"), (2, "hukum", "manual")]
    assert history[0]["matched_terms"] and history[0]["is_fallback"] is False  # "why BPPKAD?"


async def test_unit_hands_back_its_own_complaint_to_triage(router, complaint, infra, topics):
    async with httpx.AsyncClient(base_url=router.url) as http:
        other_unit = await http.post(f"/api/v1/complaints/{complaint.tracking_code}/not-our-authority",
                                     headers=HUKUM, json={"reason": "bukan urusan kami"})
        own_unit = await http.post(f"/api/v1/complaints/{complaint.tracking_code}/not-our-authority",
                                   headers=BPPKAD, json={"reason": "Ini sengketa waris, bukan pajak"})
    assert other_unit.status_code == 404  # another unit's complaint looks like no complaint at all
    assert own_unit.status_code == 202
    _, second = await assigned_events(infra, topics, complaint.complaint_id, 2)
    assert (second["unit"]["code"], second["assigned_by"]) == ("diskominfo", "unit:bppkad")
    assert second["reason"].startswith("Bukan wewenang")


async def test_requests_without_the_right_credentials_are_refused(router, complaint):
    ref = complaint.tracking_code
    body = {"unit": "hukum", "reason": "coba-coba"}
    async with httpx.AsyncClient(base_url=router.url) as http:
        assert (await http.post(f"/api/v1/complaints/{ref}/reassign", json=body)).status_code == 401
        wrong = {"Authorization": "Bearer guess"}
        assert (await http.post(f"/api/v1/complaints/{ref}/reassign", json=body, headers=wrong)).status_code == 401
        assert (await http.post(f"/api/v1/complaints/{ref}/reassign", json=body, headers=BPPKAD)).status_code == 403
        assert (await http.get(f"/api/v1/complaints/{ref}/assignments", headers=BPPKAD)).status_code == 403
        unknown_unit = await http.post(f"/api/v1/complaints/{ref}/reassign", headers=OPERATOR,
                                       json={"unit": "dinas-x", "reason": "salah unit"})
        assert unknown_unit.status_code == 422
        same_unit = await http.post(f"/api/v1/complaints/{ref}/reassign", headers=OPERATOR,
                                    json={"unit": "bppkad", "reason": "tetap di sini"})
        assert same_unit.status_code == 409
        missing = await http.post("/api/v1/complaints/AAAAA-AAAAA/reassign", headers=OPERATOR, json=body)
        assert missing.status_code == 404
