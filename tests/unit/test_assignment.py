from __future__ import annotations

import json

import pytest

from services.router.routing.assignment import assignment_id_for
from shared import contact_seal
from shared.contracts import Anonymity, Place
from tests.support import events


@pytest.mark.parametrize("anonymity", [Anonymity.ANONIM, Anonymity.RAHASIA])
def test_hidden_identity_is_not_given_to_the_unit(anonymity):
    assigned = events.assigned(anonymity=anonymity)
    assert assigned.reporter_for_unit is None
    assert "+6281234567890" not in assigned.model_dump_json()  # sealed for the notifier alone
    assert json.loads(contact_seal.open_sealed(assigned.sealed_contact))["phone"] == "+6281234567890"


def test_public_reporter_is_shown_to_the_unit():
    assigned = events.assigned(anonymity=Anonymity.NONE)
    assert assigned.reporter_for_unit is not None and assigned.reporter_for_unit.name == "Siti Aminah"


def test_assignment_ids_are_deterministic_per_sequence():
    cid = "e3d28bb6-0280-570c-8668-7cffaf5c57a7"
    # The same in every process and version: a decision replayed after an upgrade keeps its id downstream.
    assert assignment_id_for(cid, 1) == "707caf9d-7feb-51fc-a309-c55e58ef6a38"
    assert assignment_id_for(cid, 2) == "eccf4be0-9720-5cc7-9a9a-5dd067a3a899"


def test_the_unit_gets_the_kelurahan_an_sms_names_and_the_web_forms_choice_as_it_was():
    by_sms = events.assigned("SURGA lampu PJU mati 3 hr di kel. Setonopande", channel="sms")
    assert by_sms.place == Place(kelurahan="Setono Pande", kecamatan="Kota")
    chosen = Place(kelurahan="Bandar Lor", kecamatan="Mojoroto", street="gang 3 depan masjid")
    assert events.assigned("Lampu jalan mati", place=chosen).place == chosen
    assert events.assigned("Lampu jalan mati").place is None
