from __future__ import annotations

import pytest

from services.router.routing.normalise import normalise, strip_keyword


@pytest.mark.parametrize(("raw", "expected"), [
    ("SURGA: Jln rusak!!", "jalan rusak"),
    ("surga. sy tdk dpt", "saya tidak dapat"),
    ("Surga  yg   ini, dgn itu", "yang ini dengan itu"),
    ("SURGA,walkot blm datang", "wali kota belum datang"),
    ("Surgawi", "surgawi"),  # a word that only starts with the keyword stays
    ("lemooot bangeeet, maaf", "lemot banget maaf"),  # emphasis goes, double letters stay
    ("TOLONGGG!!!", "tolong"),
])
def test_normalise_text(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("minta 100rb", "minta 100000 rupiah"),
    ("minta 100 rb", "minta 100000 rupiah"),
    ("imbalan 200 ribu", "imbalan 200000 rupiah"),
    ("dipotong 1,5jt", "dipotong 1500000 rupiah"),
    ("bayar Rp 50.000,00", "bayar 50000 rupiah"),
    ("bayar Rp50.000", "bayar 50000 rupiah"),
    ("dana 2 miliar", "dana 2000000000 rupiah"),
    ("tahun 2021 rt 05", "tahun 2021 rt 05"),  # plain numbers are not money
])
def test_money_is_written_in_rupiah(raw, expected):
    assert normalise(raw) == expected


def test_keyword_only_at_the_start():
    assert strip_keyword("ini surga dunia") == "ini surga dunia"
    assert strip_keyword("  SURGA -- isi") == "isi"
