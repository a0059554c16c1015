"""The delivery record API of the notifier and lapor_sync (shared/delivery_record.py): only with the token,
and nothing personal in what it answers, even where an error message named an address."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr

from shared.delivery_record import PATH, delivery_record_api

COMPLAINT = str(uuid.uuid4())
AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


class JobTable:  # the rows asyncpg would give for the query, and the id it was asked for
    def __init__(self) -> None:
        self.asked: list[uuid.UUID] = []

    async def fetch(self, _query: str, complaint_id: uuid.UUID) -> list[dict]:
        self.asked.append(complaint_id)
        return [{"kind": "unit_email", "status": "dead", "attempts": 15, "created_at": AT, "finished_at": AT,
                 "last_error": "SMTP 550 <siti.aminah@example.id>: mailbox unavailable; also +6281234567890",
                 "lapor_tracking_id": None},
                {"kind": "lapor_create", "status": "done", "attempts": 1, "created_at": AT, "finished_at": AT,
                 "last_error": None, "lapor_tracking_id": "LAPOR-0001"}]


async def get(token: str, authorization: str | None, complaint_id: str = COMPLAINT,
              table: JobTable | None = None) -> httpx.Response:
    api = delivery_record_api("notifier", lambda: table or JobTable(), SecretStr(token))
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(api), base_url="http://notifier") as client:
        return await client.get(PATH.format(complaint_id=complaint_id), headers=headers)


async def test_only_the_token_opens_the_record_and_none_configured_keeps_it_shut():
    assert (await get("record-token", None)).status_code == 401
    assert (await get("record-token", "Bearer guessed")).status_code == 401
    assert (await get("", "Bearer ")).status_code == 404  # not enabled: no empty token matches
    assert (await get("record-token", "Bearer record-token", complaint_id="1 OR 1=1")).status_code == 422


async def test_the_record_carries_outcomes_and_the_lapor_number_but_no_address():
    table = JobTable()
    answer = await get("record-token", "Bearer record-token", table=table)
    assert answer.status_code == 200 and table.asked == [uuid.UUID(COMPLAINT)]
    dead, created = answer.json()
    assert (dead["kind"], dead["status"], dead["attempts"]) == ("unit_email", "dead", 15)
    assert "siti.aminah" not in dead["last_error"] and "81234567890" not in dead["last_error"]
    assert "mailbox unavailable" in dead["last_error"]
    assert created["lapor_tracking_id"] == "LAPOR-0001" and created["service"] == "notifier"
