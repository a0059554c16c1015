"""The status words: every status has its words on the status page and in the SMS reply, and a citizen may
reply exactly while the router takes a reply."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.intake.web.status import STATUS_TEXT, change_step, describe
from shared.complaint_status import STATUS_PHRASE, PublicStatus, status_reply
from shared.contracts import ComplaintStatus
from shared.statuses import CITIZEN_MAY_REPLY, REPLY_ALLOWED_FROM, CitizenStatus
from tests.support.events import assigned, status_changed


def test_every_citizen_status_shows_on_the_status_page():
    for status in CitizenStatus:
        assert describe(status, "Dinas Kesehatan", lapor="1234567") != ""
    assert set(STATUS_TEXT) == set(CitizenStatus)


def test_every_status_of_the_api_has_an_sms_phrase_that_fits_one_sms():
    for status in set(CitizenStatus) - {CitizenStatus.TERCATAT_LAPOR}:  # a history entry, never the status
        assert status in STATUS_PHRASE
        found = PublicStatus(tracking_code="K7M2Q-9XD4T", complaint_id="3f0c9a52-6b1e-5f1a-9d4e-2c7b8a1d0e5f",
                             status=status, updated_at=datetime.now(UTC),
                             unit_name="Bagian Protokol dan Komunikasi Pimpinan Sekretariat Daerah Kota Kediri")
        assert len(status_reply(found, ZoneInfo("Asia/Jakarta"), "https://surga.kedirikota.go.id")) <= 160


@pytest.mark.parametrize("status", list(ComplaintStatus))
def test_a_citizen_may_reply_on_the_status_page_exactly_where_the_router_takes_the_reply(status):
    step = change_step(status_changed(assigned(), status))
    assert (step.status in CITIZEN_MAY_REPLY) == (status in REPLY_ALLOWED_FROM)
