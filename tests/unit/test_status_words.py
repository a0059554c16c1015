"""The status words: every lifecycle status has its words on the status page and in the SMS reply."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.intake.web.status import LAPOR, STATUS_OF_CHANGE, STATUS_TEXT
from shared.complaint_status import STATUS_PHRASE, PublicStatus, status_reply
from shared.contracts import ComplaintStatus


def test_every_lifecycle_status_shows_on_the_status_page():
    assert set(STATUS_OF_CHANGE) == set(ComplaintStatus)
    assert set(STATUS_OF_CHANGE.values()) <= set(STATUS_TEXT)


def test_every_status_of_the_api_has_an_sms_phrase_that_fits_one_sms():
    for status in set(STATUS_TEXT) - {LAPOR}:  # the LAPOR! link is a history entry, never the status
        assert status in STATUS_PHRASE
        found = PublicStatus(tracking_code="K7M2Q-9XD4T", complaint_id="3f0c9a52-6b1e-5f1a-9d4e-2c7b8a1d0e5f",
                             status=status, updated_at=datetime.now(UTC),
                             unit_name="Bagian Protokol dan Komunikasi Pimpinan Sekretariat Daerah Kota Kediri")
        assert len(status_reply(found, ZoneInfo("Asia/Jakarta"), "https://surga.kedirikota.go.id")) <= 160


def test_the_sms_and_the_web_intake_let_citizens_reply_at_the_same_statuses():
    from services.intake.web.status import REPLY_OPEN
    from shared.complaint_status import REPLYABLE

    words = {STATUS_OF_CHANGE[ComplaintStatus.RESPONDED], STATUS_OF_CHANGE[ComplaintStatus.REPLIED]}
    assert REPLYABLE == REPLY_OPEN == words
