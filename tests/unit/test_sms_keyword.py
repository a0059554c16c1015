from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import ANY
from zoneinfo import ZoneInfo

import pytest

from services.intake.sms.keyword import (
    ReplyToResponse,
    StatusCheck,
    complaint_text,
    reply_to_response,
    status_check,
)
from shared.complaint_status import PublicStatus, status_reply
from shared.phone import to_e164


@pytest.mark.parametrize("sms", ["SURGA lampu mati", "surga: lampu mati", "Surga.  lampu mati",
                                 "  SURGA-lampu mati", "surga,lampu mati"])
def test_keyword_is_matched_leniently(sms):
    assert complaint_text(sms) == "lampu mati"


@pytest.mark.parametrize("sms", ["lampu mati", "SURGA", "surga:   ", "surgawi indah", "ini SURGA lampu"])
def test_messages_without_keyword_or_content_are_not_complaints(sms):
    assert complaint_text(sms) is None


@pytest.mark.parametrize(("raw", "e164"), [
    ("081234567890", "+6281234567890"), ("6281234567890", "+6281234567890"),
    ("+62 812-3456-7890", "+6281234567890"), ("0354 682955", "+62354682955"),
])
def test_numbers_are_normalised_to_e164(raw, e164):
    assert to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["12", "not a number", "+62 1"])
def test_invalid_numbers_are_refused(raw):
    assert to_e164(raw) is None


@pytest.mark.parametrize("sms", ["SURGA CEK K7M2Q-9XD4T", "surga cek k7m2q9xd4t", "Surga: Cek k7m2q 9xd4t",
                                 "SURGA CEK: K7M2Q - 9XD4T", "surga cek K7M2Q-9XD4T "])
def test_status_check_is_matched_leniently(sms):
    assert status_check(complaint_text(sms)) == StatusCheck(typed=ANY, code="K7M2Q-9XD4T")


def test_status_check_reads_o_as_zero():
    assert status_check("CEK ABCDO-12345").code == "ABCD0-12345"


@pytest.mark.parametrize(("text", "typed"), [("CEK", ""), ("cek K7M2Q-9XD4", "K7M2Q-9XD4"),
                                             ("Cek k7m2q 9xd4tt", "k7m2q 9xd4tt")])
def test_a_mistyped_or_missing_code_is_still_a_status_check(text, typed):
    assert status_check(text) == StatusCheck(typed=typed, code=None)


@pytest.mark.parametrize("text", ["cek lampu jalan di depan rumah, sudah mati seminggu", "cekat sekali pelayanannya",
                                  "lampu mati K7M2Q-9XD4T", "cek lampu mati"])
def test_other_texts_are_complaints(text):
    assert status_check(text) is None


@pytest.mark.parametrize("sms", ["SURGA BALAS K7M2Q-9XD4T lampu masih mati",
                                 "surga balas: k7m2q 9xd4t lampu masih mati",
                                 "Surga Balas K7M2Q9XD4T, lampu masih mati",
                                 "SURGA BALAS k7m2q-9xd4t  lampu masih mati "])
def test_a_reply_to_a_response_is_matched_leniently(sms):
    assert reply_to_response(complaint_text(sms)) == ReplyToResponse(typed=ANY, code="K7M2Q-9XD4T",
                                                                      text="lampu masih mati")


@pytest.mark.parametrize(("text", "expected"), [
    ("BALAS", ReplyToResponse("", None, "")),  # the format help
    ("balas K7M2Q-9XD4T", ReplyToResponse("K7M2Q9XD4T", "K7M2Q-9XD4T", "")),
    ("balas K7M2Q-9XD4 masih mati", ReplyToResponse("K7M2Q9XD4", None, "masih mati")),  # "not found"
])
def test_a_reply_without_text_or_with_a_mistyped_code_is_still_a_reply(text, expected):
    assert reply_to_response(text) == expected


@pytest.mark.parametrize("text", ["balas budi kepada pak lurah yang menolong warga", "balasan surat belum datang",
                                  "lampu mati, balas K7M2Q-9XD4T", "balas jalan rusak di depan pasar"])
def test_texts_that_only_look_like_a_reply_are_complaints(text):
    assert reply_to_response(text) is None


def found(status: str, unit: str | None) -> PublicStatus:
    return PublicStatus(tracking_code="K7M2Q-9XD4T", complaint_id="3f0c9a52-6b1e-5f1a-9d4e-2c7b8a1d0e5f",
                        status=status, unit_name=unit,
                        status_at=datetime(2026, 11, 27, 20, 0, tzinfo=UTC), updated_at=datetime.now(UTC))


@pytest.mark.parametrize(("status", "unit", "reply"), [
    ("diteruskan", "Inspektorat Kota Kediri",
     "SURGA: aduan K7M2Q-9XD4T diteruskan ke Inspektorat Kota Kediri (28-11-2026)."
     " Rincian: https://surga.kedirikota.go.id/status?kode=K7M2Q-9XD4T"),
    ("ditanggapi", "Badan Pendapatan, Pengelolaan Keuangan dan Aset Daerah (BPPKAD)",
     "SURGA: aduan K7M2Q-9XD4T sudah ditanggapi BPPKAD (28-11-2026)."
     " Rincian: https://surga.kedirikota.go.id/status?kode=K7M2Q-9XD4T"),
    ("diterima", None, "SURGA: aduan K7M2Q-9XD4T diterima dan sedang ditelaah (28-11-2026)."
                       " Rincian: https://surga.kedirikota.go.id/status?kode=K7M2Q-9XD4T"),
])
def test_status_reply_is_one_sms_in_the_citizens_time_zone(status, unit, reply):
    text = status_reply(found(status, unit), ZoneInfo("Asia/Jakarta"), "https://surga.kedirikota.go.id")
    assert text == reply and len(text) <= 160

