"""The router's second opinion and the correction loop's tools, without a database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.router import learning_loop
from services.router.application.casework import Casework
from services.router.corrections import labelled, report
from services.router.routing import second_opinion
from services.router.routing.normalise import normalise
from services.router.routing.rules import load_ruleset
from services.router.routing.second_opinion import SecondOpinion, read_labelled
from services.router.routing.second_opinion import corpus as labelled_corpus
from shared.contracts import Channel, ComplaintReceived

HELD_OUT = Path(__file__).resolve().parents[1] / "data" / "routing-holdout-10.jsonl"
RULES = load_ruleset()


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return labelled_corpus()


@pytest.fixture
def quarter(corpus, monkeypatch) -> list[dict]:
    """Every fourth labelled complaint, as the packaged corpus: what is tested here does not need the whole
    of it, and each training on all of it takes seconds."""
    cases = corpus[::4]
    monkeypatch.setattr(second_opinion, "corpus", lambda: list(cases))
    return cases


def test_the_same_data_trains_the_same_model_and_its_version_follows_data_and_threshold(quarter):
    first, again = SecondOpinion(quarter), SecondOpinion(list(reversed(quarter)))
    assert first.version == again.version and first.examples == len(quarter)
    assert SecondOpinion(quarter, threshold=0.5).version != first.version
    assert SecondOpinion(quarter[:-5]).version != first.version
    text = "hadiah parsel untuk pejabat dari rekanan proyek"
    assert first.suggest(text) == again.suggest(text)


def test_a_saved_model_loads_as_the_same_model_and_is_used_only_for_the_same_data(corpus, quarter, tmp_path):
    trained = SecondOpinion.from_corpus()
    path = tmp_path / "second-opinion.npz"
    trained.save(path)
    loaded = SecondOpinion.from_corpus(saved=path)
    assert (loaded.saved, trained.saved) == (True, False)
    assert (loaded.version, loaded.examples, loaded.threshold) == (trained.version, trained.examples, trained.threshold)
    texts = [case["text"] for case in [*corpus[1::8], *read_labelled(HELD_OUT)]]  # not trained on
    suggested = [trained.suggest(t) for t in texts]
    assert [loaded.suggest(t) for t in texts] == suggested
    assert sum(s is not None for s in suggested) > len(texts) // 3  # it does suggest: the comparison means something
    assert trained.examples == len(quarter)
    # Other data or settings than it was trained with: the router trains its own.
    corrections = tmp_path / "corrections.jsonl"
    corrections.write_text('{"text": "pajak sarang burung walet belum ditagih", "expected_unit": "bppkad"}\n')
    with_corrections = SecondOpinion.from_corpus(corrections, saved=path)
    assert not with_corrections.saved and with_corrections.examples == trained.examples + 1
    assert not SecondOpinion.from_corpus(threshold=0.7, saved=path).saved


@pytest.mark.parametrize("content", [b"", b"not a numpy file", b"PK\x03\x04 broken zip"])
def test_a_saved_model_that_cannot_be_read_is_trained_instead(quarter, tmp_path, content):
    path = tmp_path / "second-opinion.npz"
    path.write_bytes(content)
    assert not SecondOpinion.from_corpus(saved=path).saved
    assert not SecondOpinion.from_corpus(saved=tmp_path / "missing.npz").saved


def test_a_saved_model_holding_python_objects_is_not_loaded(quarter, tmp_path):
    # numpy pickles object arrays; loading one could run code. A saved model is plain arrays only.
    path = tmp_path / "second-opinion.npz"
    np.savez(path, meta=np.array([{"format": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        SecondOpinion.load(path)
    assert not SecondOpinion.from_corpus(saved=path).saved


def test_it_names_a_unit_with_the_words_that_weighed_and_stays_silent_on_what_it_does_not_know(corpus):
    second = SecondOpinion(corpus, threshold=0.3)
    suggestion = second.suggest("pegawai kelurahan minta amplop supaya surat cepat ditandatangani")
    assert suggestion is not None and suggestion.unit == "inspektorat" and 0.3 <= suggestion.probability <= 1
    words = set(normalise("pegawai kelurahan minta amplop supaya surat cepat ditandatangani").split())
    assert suggestion.words and all(set(w.split()) <= words for w in suggestion.words)
    assert second.suggest("qwzx vbnm plkj") is None  # no word it has seen
    assert SecondOpinion(corpus, threshold=1.0).suggest("pegawai minta amplop") is None  # never that sure


def test_it_decides_only_where_the_rules_fall_back_and_never_against_a_rule():
    # A model that has learnt the wrong thing: every bribe, and idling at work, is the Bagian Hukum's.
    wrong = SecondOpinion([{"text": f"petugas minta uang suap ngopi {n}", "expected_unit": "hukum"} for n in range(5)]
                          + [{"text": f"wifi taman mati {n}", "expected_unit": "diskominfo"} for n in range(5)],
                          threshold=0.1)
    casework = Casework(None, None, None, None, None, wrong)  # type: ignore[arg-type]  # decide() needs none

    def event(text: str) -> ComplaintReceived:
        return ComplaintReceived.new(channel=Channel.WEB, channel_message_id=text, text=text, producer="test")

    ruled = casework.decide(RULES, event("Petugas loket minta uang suap 100rb agar cepat"))
    assert (ruled.unit.code, ruled.is_fallback) == ("inspektorat", False) and not ruled.rule_id.startswith("model:")
    taken = casework.decide(RULES, event("warung depan rumah ramai orang ngopi sampai subuh"))
    assert (taken.unit.code, taken.rule_id, taken.is_fallback) == ("hukum", f"model:{wrong.version}", False)
    assert "ngopi" in " ".join(taken.matched_terms)
    # Where the rules said "not ours" it stays silent: the pungli rule excludes the police, and "jalan rusak" is
    # out of scope.
    for text in ("polisi minta uang suap waktu razia", "jalan rusak, orang ngopi di pinggir lubang"):
        assert RULES.left_to_triage(text, "web") and casework.decide(RULES, event(text)).is_fallback
    unknown = RULES.second_opinion(RULES.route("jalan berlubang", "web"), "dinas-pu", ["jalan"], "v1")
    assert unknown.is_fallback and unknown.rule_id == "fallback"  # only units of the registry


@pytest.mark.parametrize(("row", "expected"), [
    ({"assignments": 1, "final_unit": "bppkad", "outcome": None, "handed_back": False},
     {"expected_unit": "bppkad", "correction": "confirmed"}),
    ({"assignments": 3, "final_unit": "hukum", "outcome": None, "handed_back": True},
     {"expected_unit": "hukum", "correction": "handed back"}),
    ({"assignments": 2, "final_unit": "hukum", "outcome": "Sudah dijawab", "handed_back": False},
     {"expected_unit": "hukum", "correction": "reassigned"}),
    ({"assignments": 2, "final_unit": "hukum", "outcome": "Bukan aduan: iklan", "handed_back": False},
     {"expected_unit": "diskominfo", "expected_fallback": True, "correction": "not a complaint"}),
])
def test_a_settled_complaint_is_labelled_with_where_it_ended(row, expected):
    base = {"text": "t", "channel": "sms", "category": None, "first_unit": "bppkad", "first_rule": "r"}
    case = labelled(base | row, "diskominfo")
    assert {k: case[k] for k in expected} == expected and "category" not in case


def test_the_report_names_the_rule_that_misroutes_and_proposes_terms_that_point_at_the_unit():
    cases = [{"text": f"petugas taman kota tidur siang di gazebo {n}", "expected_unit": "inspektorat"}
             for n in range(3)] + [{"text": "pajak restoran naik terus", "expected_unit": "bppkad"}]
    text = report(RULES, cases)
    assert "fallback" in text.split("rules by complaints misrouted")[1].splitlines()[1]
    proposals = next(line for line in text.splitlines() if line.strip().startswith("inspektorat:"))
    assert "tidur" in proposals and "pajak" not in proposals


def test_the_loop_on_the_held_out_file_prints_each_configuration_and_the_last_line(capsys):
    assert learning_loop.main([str(HELD_OUT), "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    scores = [float(line.split("accuracy=")[1].split()[0]) for line in lines[2:5]]
    assert lines[-1].startswith("accuracy=") and "fallback_rate=" in lines[-1]
    assert scores[2] > scores[0]  # learning from corrections beats the shipped rules alone on the other part
