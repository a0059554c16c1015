from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.router.rules import RuleSetError, load_ruleset, normalise

# A copy of the team's labelled sample (../shared/corpus/routing-sample.jsonl), kept in the
# repository so this test runs wherever the repository is cloned.
CORPUS = Path(__file__).resolve().parents[1] / "data" / "routing-sample.jsonl"
UNITS = Path(__file__).resolve().parents[2] / "services" / "router" / "units.yaml"


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_labelled_sample_routes_to_the_expected_units(ruleset):
    cases = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    wrong = []
    for case in cases:
        decision = ruleset.route(case["text"], "web")
        if (decision.unit.code, decision.is_fallback) != (case["expected_unit"], case.get("expected_fallback", False)):
            wrong.append((case["text"], decision.unit.code, decision.rule_id))
    assert wrong == []


def test_decision_explains_itself(ruleset):
    decision = ruleset.route("SURGA mohon keringanan pajak BPHTB untuk rumah warisan", "sms")
    assert decision.unit.code == "bppkad"
    assert decision.rule_id == "bppkad-pajak-aset"
    assert set(decision.matched_terms) == {"pajak", "bphtb"}
    assert decision.ruleset_version == ruleset.version and not decision.is_fallback


def test_unclaimed_complaint_goes_to_the_fallback_unit(ruleset):
    decision = ruleset.route("Pohon tumbang menutup jalan", "web")
    assert (decision.unit.code, decision.rule_id, decision.is_fallback) == ("diskominfo", "fallback", True)


def test_first_matching_rule_wins_and_exclusions_apply(tmp_path):
    rules = write(tmp_path, """
rules:
  - {id: first, unit: hukum, any: [pajak], none: [hotel]}
  - {id: second, unit: bppkad, any: [pajak]}
""")
    ruleset = load_ruleset(rules, UNITS)
    assert ruleset.route("pajak kendaraan", "web").rule_id == "first"
    assert ruleset.route("pajak hotel", "web").rule_id == "second"  # excluded from the first


def test_terms_match_whole_words_and_prefixes_only_with_a_star(tmp_path):
    ruleset = load_ruleset(write(tmp_path, """
rules:
  - {id: exact, unit: hukum, any: [asn]}
  - {id: prefix, unit: bppkad, any: ["pungut*"]}
"""), UNITS)
    assert ruleset.route("pasnya rusak", "web").is_fallback  # "asn" inside a word does not count
    assert ruleset.route("ada ASN di sini", "web").rule_id == "exact"
    assert ruleset.route("pungutan di pasar", "web").rule_id == "prefix"


def test_channel_condition(tmp_path):
    ruleset = load_ruleset(write(tmp_path, """
rules:
  - {id: sms-only, unit: hukum, any: [lampu], channels: [sms]}
"""), UNITS)
    assert ruleset.route("lampu mati", "sms").rule_id == "sms-only"
    assert ruleset.route("lampu mati", "web").is_fallback


@pytest.mark.parametrize(("content", "problem"), [
    ("rules:\n  - {id: a, unit: dinas-fiktif, any: [x]}\n", "unknown unit 'dinas-fiktif'"),
    ("rules:\n  - {id: a, unit: hukum, any: [x]}\n  - {id: a, unit: hukum, any: [y]}\n", "duplicate id"),
    ("rules:\n  - {id: a, unit: hukum}\n", "needs at least one term"),
    ("rules:\n  - {unit: hukum, any: [x]}\n", "missing id"),
    ("rules:\n  - {id: a, unit: hukum, any: ['!!!']}\n", "bad term '!!!'"),
    ("rules: [\n", "not valid YAML"),
])
def test_invalid_rules_fail_at_load_naming_file_rule_and_problem(tmp_path, content, problem):
    path = write(tmp_path, content)
    with pytest.raises(RuleSetError) as error:
        load_ruleset(path, UNITS)
    assert str(path) in str(error.value) and problem in str(error.value)


def test_version_changes_with_the_rules(tmp_path):
    one = load_ruleset(write(tmp_path, "rules:\n  - {id: a, unit: hukum, any: [x]}\n"), UNITS)
    two = load_ruleset(write(tmp_path, "rules:\n  - {id: a, unit: hukum, any: [y]}\n"), UNITS)
    assert one.version != two.version


@pytest.mark.parametrize(("raw", "expected"), [
    ("SURGA: Jln rusak!!", "jalan rusak"),
    ("surga. sy tdk dpt", "saya tidak dpt"),
    ("Surga  yg   ini, dgn itu", "yang ini dengan itu"),
    ("Surgawi", "surgawi"),  # a word that merely starts with the keyword stays
])
def test_normalise(raw, expected):
    assert normalise(raw) == expected
