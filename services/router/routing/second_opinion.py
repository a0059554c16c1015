"""A statistical second opinion for the complaints no rule claims: TF-IDF over the normalised words (one and two
words) and over their letters (two to five: SMS spellings, Javanese affixes and typos still share most of them),
and a linear model (scikit-learn's logistic regression), trained on labelled complaints (the team's
corpus in services/router/labelled/, and the city's corrections: services/router/corrections.py).

Used only where the rules fall back, never against a rule that matched. It answers only when it is at least
`threshold` sure and its best guess is a unit, not "out of scope" (labelled `expected_fallback`), and says
which words weighed most. Its version is a digest of the training data and the settings, like the rule set's.
Deterministic: the same files train the same model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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


class SecondOpinion:
    def __init__(self, cases: list[dict[str, Any]], threshold: float = THRESHOLD) -> None:
        if len({label_of(c) for c in cases}) < 2:
            raise ValueError("the second opinion needs labelled complaints of at least two units")
        # Sorted: the solver's last bits depend on the order of the examples, and the same data must train
        # the same model.
        examples = sorted((normalise(c["text"]), label_of(c)) for c in cases)
        texts, labels = [text for text, _ in examples], [label for _, label in examples]
        self.threshold = threshold
        self.vectorizer = TfidfVectorizer(analyzer="word", ngram_range=SETTINGS["ngram_range"], sublinear_tf=True)
        self.letters = TfidfVectorizer(analyzer="char_wb", ngram_range=SETTINGS["char_ngram_range"],
                                       min_df=SETTINGS["char_min_df"], sublinear_tf=True)
        features = hstack([self.vectorizer.fit_transform(texts), self.letters.fit_transform(texts)]).tocsr()
        self.model = LogisticRegression(C=SETTINGS["C"], class_weight=SETTINGS["class_weight"], max_iter=5000)
        self.model.fit(features, labels)
        self.vocabulary = self.vectorizer.get_feature_names_out()
        digest = hashlib.sha256(json.dumps([examples, repr(SETTINGS), threshold], ensure_ascii=False).encode())
        self.version = digest.hexdigest()[:12]
        self.examples = len(cases)

    @classmethod
    def from_corpus(cls, *corrections: Path, threshold: float = THRESHOLD) -> SecondOpinion:
        """Trained as the router trains it: the team's corpus and the city's exported corrections."""
        return cls(corpus() + read_labelled(*corrections), threshold)

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
