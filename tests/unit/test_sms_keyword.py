from __future__ import annotations

import pytest

from services.intake.sms.keyword import complaint_text
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
