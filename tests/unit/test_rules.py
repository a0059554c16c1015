from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.router.routing.rules import RuleSetError, load_ruleset
from shared.units import DEFAULT_UNITS_FILE as UNITS

DATA = Path(__file__).resolve().parents[2] / "services" / "router" / "labelled"
# routing-sample.jsonl is a copy of the team's labelled sample (../shared/corpus/); the others were written by
# others without looking at the rules (first runs, rules alone: holdout 0.875, -2 0.817, -3 0.767, -4 0.900,
# -5 0.908, -6 0.920, -7 0.928, -8 0.924, -9 0.892, complaints-a 0.775, -b 0.813; their misses showed general
# gaps that were then closed). Held out, never tuned on: tests/data/routing-holdout-10.jsonl.
CORPORA = ["routing-sample.jsonl", "routing-holdout.jsonl", "routing-holdout-2.jsonl", "routing-holdout-3.jsonl",
           "routing-holdout-4.jsonl", "routing-holdout-5.jsonl", "routing-holdout-6.jsonl", "routing-holdout-7.jsonl",
           "routing-holdout-8.jsonl", "routing-holdout-9.jsonl", "complaints-a.jsonl", "complaints-b.jsonl"]
MIN_ACCURACY = 0.9


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset()


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("corpus", CORPORA)
def test_labelled_complaints_route_to_the_expected_units(ruleset, corpus):
    cases = [json.loads(line) for line in (DATA / corpus).read_text().splitlines() if line.strip()]
    right = sum(ruleset.route(c["text"], c.get("channel", "web")).unit.code == c["expected_unit"] for c in cases)
    assert right / len(cases) >= MIN_ACCURACY


def test_decision_explains_itself(ruleset):
    decision = ruleset.route("SURGA mohon keringanan pajak BPHTB utk rumah warisan", "sms")
    assert decision.unit.code == "bppkad"
    assert decision.rule_id == "bppkad-pajak-daerah"
    assert set(decision.matched_terms) >= {"bphtb", "keringanan pajak"}
    assert decision.ruleset_version == ruleset.version and not decision.is_fallback


def test_unclaimed_complaint_goes_to_the_fallback_unit(ruleset):
    decision = ruleset.route("Pohon tumbang menutup jalan", "web")
    assert (decision.unit.code, decision.rule_id, decision.is_fallback, decision.matched_terms) == \
        ("diskominfo", "fallback", True, [])


def test_misconduct_by_a_tax_officer_goes_to_inspektorat_not_bppkad(ruleset):
    assert ruleset.route("petugas pajak minta uang rokok 50rb", "sms").unit.code == "inspektorat"


def test_first_matching_rule_wins_and_exclusions_apply(tmp_path):
    ruleset = load_ruleset(write(tmp_path, """
rules:
  - {id: first, unit: hukum, any: [pajak], none: [hotel]}
  - {id: second, unit: bppkad, any: [pajak]}
"""), UNITS)
    assert ruleset.route("pajak kendaraan", "web").rule_id == "first"
    assert ruleset.route("pajak hotel", "web").rule_id == "second"


def test_what_the_rules_leave_to_triage_a_rule_stopped_by_its_exclusions_and_out_of_scope_words(tmp_path):
    ruleset = load_ruleset(write(tmp_path, """
out_of_scope: [polisi, "jalan rusak"]
rules:
  - {id: pungli, unit: inspektorat, any: [minta uang], none: [pln]}
"""), UNITS)
    assert ruleset.route("petugas PLN minta uang", "web").is_fallback
    assert ruleset.left_to_triage("petugas PLN minta uang", "web") == ["pungli"]
    assert ruleset.left_to_triage("SURGA jln rusak, polisi diam saja", "sms") == [
        "out_of_scope:polisi", "out_of_scope:jalan rusak"]
    assert ruleset.left_to_triage("lampu taman mati", "web") == []
    # Only a guess is held back: a rule that claims the complaint still does.
    assert ruleset.route("polisi lihat pegawai minta uang", "web").rule_id == "pungli"
    with pytest.raises(RuleSetError, match="'out_of_scope' must be a non-empty list"):
        load_ruleset(write(tmp_path, "out_of_scope: polisi\nrules:\n  - {id: a, unit: hukum, any: [x]}\n"), UNITS)


def test_all_terms_must_appear(tmp_path):
    ruleset = load_ruleset(write(tmp_path, "rules:\n  - {id: both, unit: hukum, all: [tanah, sengketa]}\n"), UNITS)
    assert ruleset.route("sengketa tanah warga", "web").matched_terms == ["tanah", "sengketa"]
    assert ruleset.route("sengketa parkir", "web").is_fallback


def test_terms_match_whole_words_and_stars_allow_affixes(tmp_path):
    ruleset = load_ruleset(write(tmp_path, """
rules:
  - {id: exact, unit: hukum, any: [asn]}
  - {id: affixes, unit: bppkad, any: ["*potong*"]}
"""), UNITS)
    assert ruleset.route("pasnya rusak", "web").is_fallback
    assert ruleset.route("ada PNS di sini", "web").rule_id == "exact"  # pns is spelled asn
    for text in ("dipotong", "terpotong", "potongan"):
        assert ruleset.route(f"insentif {text}", "web").rule_id == "affixes"
    assert ruleset.route("pemotongan insentif", "web").is_fallback  # p becomes m: its own term


def test_patterns_match_the_normalised_text(tmp_path):
    ruleset = load_ruleset(write(tmp_path, r"""
rules:
  - {id: money, unit: inspektorat, patterns: ['\b\d{5,} rupiah\b']}
"""), UNITS)
    decision = ruleset.route("diminta 150rb", "sms")
    assert decision.rule_id == "money" and decision.matched_terms == [r"\b\d{5,} rupiah\b"]
    assert ruleset.route("diminta 15 orang", "sms").is_fallback


def test_channel_and_category_conditions(tmp_path):
    ruleset = load_ruleset(write(tmp_path, """
rules:
  - {id: sms-only, unit: hukum, any: [lampu], channels: [sms]}
  - {id: tax-category, unit: bppkad, categories: [Pajak-Retribusi]}
"""), UNITS)
    assert ruleset.route("lampu mati", "sms").rule_id == "sms-only"
    assert ruleset.route("lampu mati", "web").is_fallback
    assert ruleset.route("tolong dibantu", "web", "pajak-retribusi").rule_id == "tax-category"
    assert ruleset.route("tolong dibantu", "web", "lainnya").is_fallback


@pytest.mark.parametrize(("content", "problem"), [
    ("rules:\n  - {id: a, unit: dinas-fiktif, any: [x]}\n", "unknown unit 'dinas-fiktif'"),
    ("rules:\n  - {id: a, unit: hukum, any: [x]}\n  - {id: a, unit: hukum, any: [y]}\n", "duplicate id"),
    ("rules:\n  - {id: a, unit: hukum}\n", "needs at least one of"),
    ("rules:\n  - {id: a, unit: bppkad, categories: [pajak daerah]}\n", "unknown category ['pajak daerah']"),
    ("rules:\n  - {unit: hukum, any: [x]}\n", "missing id"),
    ("rules:\n  - {id: a, unit: hukum, any: ['!!!']}\n", "bad term '!!!'"),
    ("rules:\n  - {id: a, unit: hukum, patterns: ['(unclosed']}\n", "bad pattern '(unclosed'"),
    ("rules:\n  - {id: a, unit: hukum, any: [x], channel: [sms]}\n", "unknown condition ['channel']"),
    ("rules:\n  - {id: a, unit: hukum, any: [x], channels: [Fax Machine]}\n", "not a valid name in channels"),
    ("rules:\n  - {id: fallback, unit: hukum, any: [x]}\n", "'fallback' is reserved"),
    ("rules: [\n", "not valid YAML"),
])
def test_invalid_rules_fail_at_load_naming_file_rule_and_problem(tmp_path, content, problem):
    path = write(tmp_path, content)
    with pytest.raises(RuleSetError) as error:
        load_ruleset(path, UNITS)
    assert str(path) in str(error.value) and problem in str(error.value)


@pytest.mark.parametrize(("units", "problem"), [
    ("fallback: nobody\nunits:\n  - {code: a, name: Unit A, email: a@x.id}\n", "fallback unit 'nobody'"),
    ("fallback: a\nunits:\n  - {code: a, name: Unit A, email: a@x.id}\n  - {code: a, name: Unit B, email: b@x.id}\n",
     "unit 'a': duplicate code"),
    ("fallback: a\nunits:\n  - {code: a, name: Unit A, email: not-mail}\n", "unit #1 'a' email"),
    ("fallback: a\nunits:\n  - {code: a, name: Unit A, email: a@x.id, deadlines: {forward: 0}}\n",
     "unit #1 'a' deadlines.forward"),
])
def test_invalid_units_registry_fails_naming_file_unit_and_problem(tmp_path, units, problem):
    rules = write(tmp_path, "rules:\n  - {id: r, unit: a, any: [x]}\n")
    path = write(tmp_path, units, "units.yaml")
    with pytest.raises(RuleSetError) as error:
        load_ruleset(rules, path)
    assert str(path) in str(error.value) and problem in str(error.value)


def test_a_new_unit_is_a_data_change_only(tmp_path):
    units = UNITS.read_text() + "  - {code: dinkes, name: Dinas Kesehatan, email: dinkes@kedirikota.go.id,\n" \
                                "     deadlines: {follow_up: 2}}\n"
    ruleset = load_ruleset(write(tmp_path, "rules:\n  - {id: sehat, unit: dinkes, any: [puskesmas]}\n"),
                           write(tmp_path, units, "units.yaml"))
    decision = ruleset.route("antrean puskesmas panjang", "web")
    assert (decision.unit.code, str(decision.unit.email)) == ("dinkes", "dinkes@kedirikota.go.id")
    deadlines = ruleset.registry.deadlines_for("dinkes")
    assert (deadlines.forward, deadlines.follow_up, deadlines.close_after_response) == (3, 2, 10)


def test_version_is_a_hash_of_both_files(tmp_path):
    one = load_ruleset(write(tmp_path, "rules:\n  - {id: a, unit: hukum, any: [x]}\n"), UNITS)
    two = load_ruleset(write(tmp_path, "rules:\n  - {id: a, unit: hukum, any: [y]}\n"), UNITS)
    assert one.version != two.version and len(one.version) == 12


def test_guesses_show_the_secretariat_what_other_rules_saw_and_lacked(tmp_path):
    ruleset = load_ruleset(write(tmp_path, """
rules:
  - {id: pungli, unit: inspektorat, any: [pungli, "uang rokok"]}
  - {id: pajak, unit: bppkad, any: [pajak, pbb]}
  - {id: sengketa, unit: hukum, all: [tanah, sengketa]}
  - {id: acara, unit: prokopim, any: [acara], none: [pernikahan]}
  - {id: pajak-lagi, unit: bppkad, any: [tagihan]}
"""), UNITS)
    text = "Tagihan pajak salah, petugas minta uang rokok; tanah kami; acara pernikahan"
    decision = ruleset.route(text, "web")
    assert decision.rule_id == "pungli"
    guesses = ruleset.guesses(text, "web", other_than=decision.unit.code)
    # One per unit: the rule that also matched first, then those short of a term or excluded.
    assert [(g.rule_id, g.matched) for g in guesses] == [("pajak", True), ("sengketa", False), ("acara", False)]
    assert guesses[1].found == ["tanah"] and guesses[1].missing == ["sengketa"]
    assert guesses[2].blocked_by == ["pernikahan"]
    assert ruleset.guesses("Jadwal posyandu bulan depan", "web") == []  # no rule sees anything


def test_every_public_category_but_lainnya_has_a_unit_and_the_text_comes_first(ruleset):
    from shared.categories import OTHER, categories

    vague = "Mohon segera ditindaklanjuti, sudah lama tidak ada kabar"
    placed = {code: ruleset.route(vague, "web", code) for code in categories()}
    assert {code for code, d in placed.items() if d.is_fallback} == {OTHER}
    assert all(d.rule_id.startswith("kategori-") for code, d in placed.items() if code != OTHER)
    # A bribe filed under "hoaks" is the Inspektorat's: the rules read the words before the category.
    bribe = ruleset.route("Petugas loket kelurahan minta uang 100rb agar surat cepat jadi", "web", "hoaks")
    assert (bribe.unit.code, bribe.rule_id) == ("inspektorat", "inspektorat-pungli-suap")
