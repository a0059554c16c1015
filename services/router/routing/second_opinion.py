"""A statistical second opinion for the complaints no rule claims: TF-IDF over the normalised words (one and two
words) and over their letters (two to five: SMS spellings, Javanese affixes and typos still share most of them),
and a linear model (scikit-learn's logistic regression), trained on labelled complaints (the team's
corpus in services/router/labelled/, and the city's corrections: services/router/corrections.py).

Used only where the rules fall back, never against a rule that matched. It answers only when it is at least
`threshold` sure and its best guess is a unit, not "out of scope" (labelled `expected_fallback`), and says
which words weighed most. Its version is a digest of the training data and the settings, like the rule set's.
Deterministic: the same files train the same model.

Training takes seconds, so the image carries a model trained at build time (`python -m
services.router.routing.second_opinion PATH`, plain arrays: no pickle, nothing in it runs); the router loads it
only when it was trained on the very data and settings the router would train on (the same version), and
otherwise trains its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

import numpy as np
import structlog
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from services.router.routing.normalise import normalise
from services.router.routing.rules import Decision, RuleSet

LABELLED_DIR = Path(__file__).resolve().parents[1] / "labelled"  # services/router/labelled: the team's corpus
OUT_OF_SCOPE = "-"  # the class of complaints that are for no unit of ours (the PPID secretariat sorts them)
SETTINGS = {"ngram_range": (1, 2), "char_ngram_range": (2, 5), "char_min_df": 2, "C": 10.0,
            "class_weight": "balanced"}
THRESHOLD = 0.6  # chosen by cross-validation on the corpus: lower sends more out-of-scope complaints to units
SAVED_FORMAT = 1

log = structlog.get_logger()


@dataclass(frozen=True)
class Suggestion:
    unit: str
    probability: float
    words: list[str]  # the words that weighed most for this unit, strongest first


def read_labelled(*paths: Path) -> list[dict[str, Any]]:
    """JSON lines with "text" and "expected_unit" (and "expected_fallback": true for out of scope)."""
    cases = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                case = json.loads(line)
                if not isinstance(case.get("text"), str) or not isinstance(case.get("expected_unit"), str):
                    raise ValueError(f"{path}:{number}: needs 'text' and 'expected_unit'")
                cases.append(case)
    return cases


def corpus() -> list[dict[str, Any]]:
    """The team's labelled complaints (services/router/labelled/*.jsonl); empty when they were not packaged."""
    return read_labelled(*sorted(LABELLED_DIR.glob("*.jsonl")))


def decide(ruleset: RuleSet, second: SecondOpinion | None, text: str, channel: str, category: str | None) -> Decision:
    """The rules' decision; where they fall back, the second opinion's if it has one. Never against the rules: not
    against one that matched, nor where one was stopped by its `none` terms or the text has an `out_of_scope` term
    (the rules' word that it is not for that unit, or for none: a police officer asking money, a Samsat tax, a
    greeting to the mayor; triage reads those)."""
    decision = ruleset.route(text, channel, category)
    if (decision.is_fallback and second is not None and not ruleset.left_to_triage(text, channel, category)
            and (suggestion := second.suggest(text))):
        return ruleset.second_opinion(decision, suggestion.unit, suggestion.words, second.version)
    return decision


def label_of(case: dict[str, Any]) -> str:
    return OUT_OF_SCOPE if case.get("expected_fallback") else str(case["expected_unit"])


def training_examples(cases: list[dict[str, Any]]) -> list[tuple[str, str]]:
    # Sorted: the solver's last bits depend on the order of the examples, and the same data must train the
    # same model.
    return sorted((normalise(c["text"]), label_of(c)) for c in cases)


def version_of(examples: list[tuple[str, str]], threshold: float) -> str:
    digest = hashlib.sha256(json.dumps([examples, repr(SETTINGS), threshold], ensure_ascii=False).encode())
    return digest.hexdigest()[:12]


def _vectorizers(words: dict[str, int] | None = None,
                 letters: dict[str, int] | None = None) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    """The word and letter vectorizers, empty (to train) or with a saved vocabulary (to load)."""
    return (TfidfVectorizer(analyzer="word", ngram_range=SETTINGS["ngram_range"], sublinear_tf=True,
                            vocabulary=words),
            TfidfVectorizer(analyzer="char_wb", ngram_range=SETTINGS["char_ngram_range"],
                            min_df=SETTINGS["char_min_df"], sublinear_tf=True, vocabulary=letters))


class SecondOpinion:
    def __init__(self, cases: list[dict[str, Any]], threshold: float = THRESHOLD) -> None:
        """Trains on `cases`."""
        examples = training_examples(cases)
        if len({label for _, label in examples}) < 2:
            raise ValueError("the second opinion needs labelled complaints of at least two units")
        texts, labels = [text for text, _ in examples], [label for _, label in examples]
        self.vectorizer, self.letters = _vectorizers()
        features = hstack([self.vectorizer.fit_transform(texts), self.letters.fit_transform(texts)]).tocsr()
        self.model = LogisticRegression(C=SETTINGS["C"], class_weight=SETTINGS["class_weight"], max_iter=5000)
        self.model.fit(features, labels)
        self._described(version_of(examples, threshold), len(examples), threshold, saved=False)

    def _described(self, version: str, examples: int, threshold: float, saved: bool) -> None:
        self.vocabulary = self.vectorizer.get_feature_names_out()
        self.version, self.examples, self.threshold = version, examples, threshold
        self.saved = saved  # loaded from a saved model, not trained here

    @classmethod
    def from_corpus(cls, *corrections: Path, threshold: float = THRESHOLD, saved: Path | None = None) -> SecondOpinion:
        """Trained as the router trains it: the team's corpus and the city's exported corrections. `saved`: a
        model saved by `save`, used instead of training when it was trained on the same (same version)."""
        cases = corpus() + read_labelled(*corrections)
        if saved is not None:
            wanted = version_of(training_examples(cases), threshold)
            try:
                loaded = cls.load(saved)
            except (OSError, EOFError, ValueError, KeyError, BadZipFile) as error:  # unreadable: train, as without
                log.warning("second_opinion_saved_unusable", path=str(saved), error=str(error)[:200])
            else:
                if loaded.version == wanted:
                    return loaded
                log.info("second_opinion_saved_other_data", saved=loaded.version, wanted=wanted)
        return cls(cases, threshold)

    def save(self, path: Path) -> None:
        """Plain arrays (numpy's npz without pickle): loading it runs nothing."""
        meta = {"format": SAVED_FORMAT, "version": self.version, "examples": self.examples,
                "threshold": self.threshold}
        with Path(path).open("wb") as out:
            np.savez_compressed(out, meta=np.array(json.dumps(meta)),
                                words=np.array(self.vocabulary, dtype=str), words_idf=self.vectorizer.idf_,
                                letters=np.array(self.letters.get_feature_names_out(), dtype=str),
                                letters_idf=self.letters.idf_, classes=np.array(self.model.classes_, dtype=str),
                                coef=self.model.coef_, intercept=self.model.intercept_)

    @classmethod
    def load(cls, path: Path) -> SecondOpinion:
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(str(saved["meta"]))
            if meta.get("format") != SAVED_FORMAT:
                raise ValueError(f"saved in format {meta.get('format')!r}, this code reads {SAVED_FORMAT}")
            loaded = cls.__new__(cls)  # not trained: put together from what training left
            loaded.vectorizer, loaded.letters = _vectorizers({str(w): n for n, w in enumerate(saved["words"])},
                                                             {str(w): n for n, w in enumerate(saved["letters"])})
            loaded.vectorizer.idf_, loaded.letters.idf_ = saved["words_idf"], saved["letters_idf"]
            loaded.model = LogisticRegression(C=SETTINGS["C"], class_weight=SETTINGS["class_weight"])
            loaded.model.classes_ = np.array([str(c) for c in saved["classes"]], dtype=object)
            loaded.model.coef_, loaded.model.intercept_ = saved["coef"], saved["intercept"]
            loaded.model.n_features_in_ = loaded.model.coef_.shape[1]
        if loaded.model.coef_.shape[1] != len(loaded.vectorizer.vocabulary_) + len(loaded.letters.vocabulary_):
            raise ValueError("the saved weights do not fit the saved vocabularies")
        loaded._described(str(meta["version"]), int(meta["examples"]), float(meta["threshold"]), saved=True)
        return loaded

    def suggest(self, text: str) -> Suggestion | None:
        """The unit it would send `text` to, if it is sure enough and thinks it is a unit's at all."""
        normalised = normalise(text)
        words = self.vectorizer.transform([normalised])
        if words.nnz == 0:  # not one word it has seen: no opinion
            return None
        probabilities = self.model.predict_proba(hstack([words, self.letters.transform([normalised])]).tocsr())[0]
        best = int(np.argmax(probabilities))
        unit = str(self.model.classes_[best])
        if unit == OUT_OF_SCOPE or probabilities[best] < self.threshold:
            return None
        row = words.tocoo()  # explained by its words (the first columns), which people can read; not by letters
        # Two classes: one row of weights, for the second; the first's are its negation.
        weights = (self.model.coef_[best] if len(self.model.classes_) > 2
                   else self.model.coef_[0] * (1 if best == 1 else -1))
        weighed = sorted(((value * weights[column], column) for column, value in zip(row.col, row.data, strict=True)),
                         reverse=True)
        return Suggestion(unit, float(probabilities[best]), [str(self.vocabulary[c]) for w, c in weighed[:5] if w > 0])


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the second opinion as the router would and save it "
                                                 "(the image carries it, so the router need not train at start-up).")
    parser.add_argument("path", type=Path)
    parser.add_argument("--corrections", type=Path, nargs="*", default=[])
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    args = parser.parse_args()
    second = SecondOpinion.from_corpus(*args.corrections, threshold=args.threshold)
    second.save(args.path)
    print(f"saved {args.path}: version {second.version}, {second.examples} examples")


if __name__ == "__main__":
    main()
