"""The city's kelurahan and kecamatan, and recognising one named in a citizen's free text."""

from __future__ import annotations

import pytest

from shared.contracts import Place
from shared.places import areas, complete, place_of, recognise


def test_the_city_has_46_kelurahan_in_3_kecamatan_each_named_once():
    assert {kecamatan: len(names) for kecamatan, names in areas().items()} == {"Kota": 17, "Mojoroto": 14,
                                                                             "Pesantren": 15}
    every = [name.lower().replace(" ", "") for names in areas().values() for name in names]
    assert len(set(every)) == 46


@pytest.mark.parametrize(("text", "kelurahan", "kecamatan"), [
    ("Jalan rusak di Kel. Setonopande, mohon diperbaiki", "Setono Pande", "Kota"),  # joined as people type it
    ("SURGA lampu PJU mati dkt psr Burengan 3 hr", "Burengan", "Pesantren"),  # a distinctive name needs no marker
    ("sampah numpuk di kelurahan bawang rt 3", "Bawang", "Pesantren"),
    ("pungli di kantor desa Pojok", "Pojok", "Mojoroto"),
    ("Banjir di BANJAR MLATI", "Banjar Mlati", "Mojoroto"),
    ("got mampet, kel ringin anom kec kota", "Ringin Anom", "Kota"),
])
def test_a_named_kelurahan_gives_its_kecamatan(text, kelurahan, kecamatan):
    assert recognise(text) == Place(kelurahan=kelurahan, kecamatan=kecamatan)


@pytest.mark.parametrize("text", [
    "harga bawang merah naik terus di pasar",  # an onion, not the kelurahan Bawang
    "di pojok jalan ada lubang besar",  # a corner
    "pondok pesantren minta izin keramaian",  # a boarding school
    "kemasan obat dari puskesmas rusak",  # packaging
    "jalan rusak di Setono Gedong dan Ringinanom",  # two places: no guess
    "pelayanan KTP lambat sekali",  # no place at all
])
def test_ordinary_words_and_ambiguity_give_no_kelurahan(text):
    assert recognise(text) is None


def test_a_kecamatan_alone_and_one_that_contradicts_the_kelurahan():
    assert recognise("kec. pesantren ada pungli parkir") == Place(kecamatan="Pesantren")
    assert recognise("kecamatan kota") == Place(kecamatan="Kota")
    # Bangsal is in Pesantren: the citizen's kecamatan stands, the kelurahan is dropped rather than guessed.
    assert recognise("kel bangsal kec mojoroto") == Place(kecamatan="Mojoroto")


def test_the_web_forms_choice_is_checked_against_the_list():
    assert place_of("Setono Gedong", " Jl. Dhoho depan toko emas ") == Place(
        kelurahan="Setono Gedong", kecamatan="Kota", street="Jl. Dhoho depan toko emas")
    assert place_of("Tegalsari", "gang buntu") == Place(street="gang buntu")  # not ours: only the street stays
    assert place_of(None, "  ") is None


def test_the_citizens_choice_stands_and_text_fills_in_what_they_left_out():
    chosen = Place(kelurahan="Bandar Lor", kecamatan="Mojoroto", street="depan SDN 2")
    assert complete(chosen, "jalan rusak di kel. Pakelan") == chosen
    assert complete(Place(street="depan SDN 2"), "jalan rusak di kel. Pakelan") == Place(
        kelurahan="Pakelan", kecamatan="Kota", street="depan SDN 2")
    assert complete(None, "jalan rusak di kel. Pakelan") == Place(kelurahan="Pakelan", kecamatan="Kota")
    assert complete(None, "jalan rusak") is None
