"""Routing rules: pure functions and data, no I/O beyond reading the two data files.

An ordered rule list, first match wins; what no rule claims goes to the fallback unit.
Each decision names the rule, the rule set version (a hash of the files' content) and the
terms that matched, so "why did this complaint go to BPPKAD?" has a stored answer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from shared.contracts import Unit

HERE = Path(__file__).parent
DEFAULT_RULES_FILE = HERE / "rules.yaml"
DEFAULT_UNITS_FILE = HERE / "units.yaml"
FALLBACK_RULE_ID = "fallback"

_KEYWORD = re.compile(r"^\s*surga\b[\s:.,;!-]*", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^\w]+")
_SMS_ABBREVIATIONS = {
    "yg": "yang", "tdk": "tidak", "gak": "tidak", "ga": "tidak", "utk": "untuk", "sy": "saya",
    "dgn": "dengan", "sdh": "sudah", "blm": "belum", "krn": "karena", "dr": "dari", "tp": "tapi",
    "jln": "jalan", "jl": "jalan", "pemkot": "pemkot", "walkot": "wali kota", "walikota": "wali kota",
}


class RuleSetError(ValueError):
    """The rule set or the units registry cannot be used; the message says where and why."""


def normalise(text: str) -> str:
    """Lower case, no SURGA keyword, no punctuation, SMS abbreviations spelled out."""
    text = _KEYWORD.sub("", text)
    words = _NOT_WORD.sub(" ", text.lower().replace("_", " ")).split()
    return " ".join(_SMS_ABBREVIATIONS.get(word, word) for word in words)


def _term_pattern(term: str) -> re.Pattern[str]:
    words = normalise(term.rstrip("*")).split()
    if not words:
        raise ValueError("empty term")
    body = r"\s+".join(re.escape(word) for word in words)
    tail = r"\w*" if term.endswith("*") else ""
    return re.compile(rf"\b{body}{tail}\b")


@dataclass(frozen=True)
class Rule:
    id: str
    unit: str
    terms: tuple[tuple[str, re.Pattern[str]], ...]
    exclusions: tuple[tuple[str, re.Pattern[str]], ...]
    channels: frozenset[str]

    def match(self, normalised: str, channel: str) -> list[str]:
        """The terms found, or [] when the rule does not apply."""
        if self.channels and channel not in self.channels:
            return []
        if any(pattern.search(normalised) for _, pattern in self.exclusions):
            return []
        return [term for term, pattern in self.terms if pattern.search(normalised)]


@dataclass(frozen=True)
class Decision:
    unit: Unit
    rule_id: str
    matched_terms: list[str]
    is_fallback: bool
    ruleset_version: str


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    units: dict[str, Unit]
    fallback_unit: str
    version: str

    def route(self, text: str, channel: str) -> Decision:
        normalised = normalise(text)
        for rule in self.rules:
            if matched := rule.match(normalised, channel):
                return Decision(self.units[rule.unit], rule.id, matched, False, self.version)
        return Decision(self.units[self.fallback_unit], FALLBACK_RULE_ID, [], True, self.version)


def _read_yaml(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise RuleSetError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise RuleSetError(f"{path}: expected a mapping at the top level")
    return data, raw


def _load_units(path: Path) -> tuple[dict[str, Unit], str, bytes]:
    data, raw = _read_yaml(path)
    units: dict[str, Unit] = {}
    for index, entry in enumerate(data.get("units") or []):
        try:
            unit = Unit(**entry)
        except Exception as error:
            raise RuleSetError(f"{path}: unit #{index + 1}: {error}") from error
        if unit.code in units:
            raise RuleSetError(f"{path}: unit {unit.code!r}: duplicate code")
        units[unit.code] = unit
    fallback = data.get("fallback")
    if fallback not in units:
        raise RuleSetError(f"{path}: fallback unit {fallback!r} is not in the units list")
    return units, fallback, raw


def _compile_terms(path: Path, rule_id: str, field: str, terms: object) -> tuple:
    if terms is None:
        return ()
    if not isinstance(terms, list):
        raise RuleSetError(f"{path}: rule {rule_id!r}: {field!r} must be a list")
    compiled = []
    for term in terms:
        try:
            compiled.append((str(term), _term_pattern(str(term))))
        except (ValueError, re.error) as error:
            raise RuleSetError(f"{path}: rule {rule_id!r}: bad term {term!r} in {field!r}: {error}") from error
    return tuple(compiled)


def load_ruleset(rules_file: Path = DEFAULT_RULES_FILE, units_file: Path = DEFAULT_UNITS_FILE) -> RuleSet:
    units, fallback, units_raw = _load_units(units_file)
    data, rules_raw = _read_yaml(rules_file)
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(data.get("rules") or []):
        rule_id = str(entry.get("id") or "")
        where = f"{rules_file}: rule #{index + 1} {rule_id!r}"
        if not rule_id:
            raise RuleSetError(f"{where}: missing id")
        if rule_id in seen:
            raise RuleSetError(f"{where}: duplicate id")
        seen.add(rule_id)
        if entry.get("unit") not in units:
            raise RuleSetError(f"{where}: unknown unit {entry.get('unit')!r} (not in {units_file})")
        terms = _compile_terms(rules_file, rule_id, "any", entry.get("any"))
        if not terms:
            raise RuleSetError(f"{where}: needs at least one term in 'any'")
        rules.append(Rule(
            id=rule_id,
            unit=entry["unit"],
            terms=terms,
            exclusions=_compile_terms(rules_file, rule_id, "none", entry.get("none")),
            channels=frozenset(entry.get("channels") or ()),
        ))
    version = hashlib.sha256(rules_raw + b"\0" + units_raw).hexdigest()[:12]
    return RuleSet(tuple(rules), units, fallback, version)
