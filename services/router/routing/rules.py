"""Routing rules: an ordered list read from a data file, first match wins. Pure, no I/O but reading.

A rule matches when every condition it states holds:
  any / patterns  at least one of these terms or patterns appears
  all             every one of these terms appears; "a | b | c" in one entry means one of them
  none            none of these terms appears
  channels        the complaint came on one of these channels
  categories      the citizen chose one of these categories
What no rule claims goes to the registry's fallback unit. Each decision carries the rule id,
the rule set version (a hash of both files' content) and the terms that matched.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.router.routing.normalise import normalise
from shared.categories import CATEGORIES_FILE, categories
from shared.contracts import Unit
from shared.units import DEFAULT_UNITS_FILE, Deadlines, RegistryError, UnitsRegistry, parse_registry

DEFAULT_RULES_FILE = Path(__file__).parent.parent / "rules.yaml"  # services/router/rules.yaml
FALLBACK_RULE_ID = "fallback"
SECOND_OPINION_RULE_PREFIX = "model:"  # rule id of a decision the second opinion made where the rules fell back
_RULE_KEYS = {"id", "unit", "description", "any", "all", "none", "patterns", "channels", "categories"}
_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")


class RuleSetError(ValueError):
    """The rule set or the units registry cannot be used; the message says where and why."""


Matcher = tuple[str, re.Pattern[str]]  # (what the administrator wrote, compiled)


# Enclitics written onto the last word: "perwalinya", "dasar hukumnya", "pajaklah".
# Javanese -e/-ne ("perdane", "pajake") are written the same way.
_ENCLITICS = r"(?:nya|lah|kah|pun|ku|mu|ne|e)?"


def term_pattern(term: str) -> re.Pattern[str]:
    """A word or phrase on word boundaries; "*" at either end stands for more letters.

    The last word may carry an enclitic (-nya, -lah, -kah, -pun, -ku, -mu, Javanese -ne, -e).
    """
    core = term.strip().strip("*")
    words = normalise(core).split()
    if not words:
        raise ValueError("no letters or digits in the term")
    head = r"\w*" if term.strip().startswith("*") else ""
    tail = r"\w*" if term.strip().endswith("*") else _ENCLITICS
    body = r"\s+".join(map(re.escape, words))
    return re.compile(rf"\b{head}{body}{tail}\b")


def _either(matchers: tuple[Matcher, ...]) -> re.Pattern[str] | None:
    """One regex for "any of these": one scan in C instead of one Python call per term."""
    return re.compile("|".join(f"(?:{p.pattern})" for _, p in matchers)) if matchers else None


@dataclass(frozen=True)
class Rule:
    id: str
    unit: str
    any: tuple[Matcher, ...]
    all: tuple[Matcher, ...]
    none: tuple[Matcher, ...]
    channels: frozenset[str]
    categories: frozenset[str]
    _any: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _none: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_any", _either(self.any))
        object.__setattr__(self, "_none", _either(self.none))

    def _fits(self, text: str, channel: str, category: str | None) -> bool:
        """Channel, category, `any` and `all` hold; `none` not looked at."""
        if self.channels and channel not in self.channels:
            return False
        if self.categories and (category or "").strip().lower() not in self.categories:
            return False
        # "any" first: most rules fail there, and then the rest need not be scanned.
        if self._any is not None and not self._any.search(text):
            return False
        return all(pattern.search(text) for _, pattern in self.all)

    def match(self, text: str, channel: str, category: str | None) -> list[str] | None:
        """The terms that made the rule match, or None when it does not."""
        if not self._fits(text, channel, category) or self._none is not None and self._none.search(text):
            return None
        found_all = [term for term, pattern in self.all if pattern.search(text)]
        # Only for the rule that matched: which terms, for the record.
        found_any = [term for term, pattern in self.any if pattern.search(text)]
        return found_all + found_any or [f"category:{category}"]

    def declines(self, text: str, channel: str, category: str | None) -> bool:
        """It would have matched but for its `none` terms: the rule says the complaint is not its unit's."""
        return self._none is not None and bool(self._none.search(text)) and self._fits(text, channel, category)


@dataclass(frozen=True)
class Guess:
    """A rule that points somewhere for a complaint without deciding it: what it found and what it lacked."""

    rule_id: str
    unit: str
    found: list[str]  # its terms in the text
    missing: list[str]  # its `all` terms not in the text (empty: it matched, but an earlier rule came first)
    blocked_by: list[str]  # its `none` terms that are in the text

    @property
    def matched(self) -> bool:
        return not self.missing and not self.blocked_by


def guess(rule: Rule, text: str, channel: str, category: str | None) -> Guess | None:
    """What `rule` sees in the normalised text, or None when it sees nothing of its own or is not for this
    channel or category. Slow (every term separately): for a person's page, not for routing."""
    if (rule.channels and channel not in rule.channels) or (
            rule.categories and (category or "").strip().lower() not in rule.categories):
        return None
    found_any = [term for term, pattern in rule.any if pattern.search(text)]
    found_all = [term for term, pattern in rule.all if pattern.search(text)]
    if not found_any and not found_all:
        return None
    missing = [term for term, pattern in rule.all if not pattern.search(text)]
    if rule.any and not found_any:
        missing.append(" / ".join(term for term, _ in rule.any[:3]) + (" / ..." if len(rule.any) > 3 else ""))
    blocked = [term for term, pattern in rule.none if pattern.search(text)]
    return Guess(rule.id, rule.unit, found_all + found_any, missing, blocked)


@dataclass(frozen=True)
class Decision:
    unit: Unit
    rule_id: str
    matched_terms: list[str]
    is_fallback: bool
    ruleset_version: str
    deadlines: Deadlines


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    registry: UnitsRegistry
    version: str
    out_of_scope: tuple[Matcher, ...] = ()  # rules.yaml's `out_of_scope`: words of complaints for no unit of ours

    def route(self, text: str, channel: str, category: str | None = None) -> Decision:
        normalised = normalise(text)
        for rule in self.rules:
            if (matched := rule.match(normalised, channel, category)) is not None:
                return Decision(self.unit(rule.unit), rule.id, matched, False, self.version,
                                self.registry.deadlines_for(rule.unit))
        fallback = self.registry.fallback
        return Decision(self.unit(fallback), FALLBACK_RULE_ID, [], True, self.version,
                        self.registry.deadlines_for(fallback))

    def left_to_triage(self, text: str, channel: str, category: str | None = None) -> list[str]:
        """Why no guess may place `text` (the second opinion stays silent): the rules that would have matched but
        for their `none` terms, and the `out_of_scope` terms in it. Empty: nothing said against a guess."""
        normalised = normalise(text)
        return ([rule.id for rule in self.rules if rule.declines(normalised, channel, category)]
                + [f"out_of_scope:{term}" for term, pattern in self.out_of_scope if pattern.search(normalised)])

    def second_opinion(self, fallback: Decision, unit_code: str, words: list[str], model_version: str) -> Decision:
        """A fallback decision taken over by the second opinion (routing/second_opinion.py): only a fallback, and
        only to a unit of the registry. Its rule id names the model's version; its terms are the words that
        weighed most."""
        if not fallback.is_fallback or self.registry.get(unit_code) is None:
            return fallback
        return Decision(self.unit(unit_code), f"{SECOND_OPINION_RULE_PREFIX}{model_version}", words, False,
                        self.version, self.registry.deadlines_for(unit_code))

    def guesses(self, text: str, channel: str, category: str | None = None, *, other_than: str = "",
                limit: int = 3) -> list[Guess]:
        """The rules' next-best guesses for the PPID secretariat, one per unit other than `other_than`: rules
        that also matched (an earlier one won) first, then those that found most of their terms."""
        normalised = normalise(text)
        found = [g for rule in self.rules if rule.unit != other_than
                 and (g := guess(rule, normalised, channel, category)) is not None]
        found.sort(key=lambda g: (not g.matched, -len(g.found), len(g.missing) + len(g.blocked_by)))
        best: dict[str, Guess] = {}
        for g in found:
            best.setdefault(g.unit, g)
        return list(best.values())[:limit]

    def unit(self, code: str) -> Unit:
        entry = self.registry.get(code)
        if entry is None:
            raise KeyError(code)
        return entry.as_unit()


def _compile(field: str, value: str) -> re.Pattern[str]:
    if field == "patterns":
        return re.compile(value)
    if field == "all" and "|" in value:  # one entry of 'all' may offer alternatives
        alternatives = [term_pattern(part).pattern for part in value.split("|")]
        return re.compile("|".join(f"(?:{alt})" for alt in alternatives))
    return term_pattern(value)


def _matchers(where: str, field: str, values: object) -> tuple[Matcher, ...]:
    if values is None:
        return ()
    if not isinstance(values, list) or not values:
        raise RuleSetError(f"{where}: {field!r} must be a non-empty list")
    matchers = []
    for value in values:
        try:
            pattern = _compile(field, str(value))
        except (ValueError, re.error) as error:
            raise RuleSetError(f"{where}: bad {'pattern' if field == 'patterns' else 'term'} "
                               f"{value!r} in {field!r}: {error}") from error
        matchers.append((str(value), pattern))
    return tuple(matchers)


def _string_set(where: str, field: str, values: object, pattern: re.Pattern[str] | None = None) -> frozenset[str]:
    if values is None:
        return frozenset()
    if not isinstance(values, list) or not values:
        raise RuleSetError(f"{where}: {field!r} must be a non-empty list")
    found = frozenset(str(v).strip().lower() for v in values)
    if pattern is not None and (bad := sorted(v for v in found if not pattern.match(v))):
        raise RuleSetError(f"{where}: not a valid name in {field}: {bad}")
    return found


def _rules_document(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise RuleSetError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleSetError(f"{path}: expected a mapping with a 'rules' list")
    return data


def parse_rules(raw: bytes, path: Path, registry: UnitsRegistry) -> tuple[Rule, ...]:
    return _parse_rules(_rules_document(raw, path), path, registry)


def _parse_rules(data: dict[str, Any], path: Path, registry: UnitsRegistry) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for index, entry in enumerate(data["rules"]):
        if not isinstance(entry, dict):
            raise RuleSetError(f"{path}: rule #{index + 1}: expected a mapping")
        rule_id = str(entry.get("id") or "")
        where = f"{path}: rule #{index + 1} {rule_id!r}"
        if not rule_id:
            raise RuleSetError(f"{where}: missing id")
        if rule_id == FALLBACK_RULE_ID or any(rule.id == rule_id for rule in rules):
            raise RuleSetError(f"{where}: duplicate id" if rule_id != FALLBACK_RULE_ID
                               else f"{where}: 'fallback' is reserved")
        if unknown_keys := set(entry) - _RULE_KEYS:
            # str keys: YAML allows "7:" as a key, and sorting 7 beside "extra" raised TypeError.
            raise RuleSetError(f"{where}: unknown condition {sorted(map(str, unknown_keys))} "
                               f"(known: {sorted(_RULE_KEYS)})")
        if registry.get(str(entry.get("unit"))) is None:
            raise RuleSetError(f"{where}: unknown unit {entry.get('unit')!r} (not in the units registry)")
        rule = Rule(
            id=rule_id, unit=str(entry["unit"]),
            any=_matchers(where, "any", entry.get("any")) + _matchers(where, "patterns", entry.get("patterns")),
            all=_matchers(where, "all", entry.get("all")),
            none=_matchers(where, "none", entry.get("none")),
            channels=_string_set(where, "channels", entry.get("channels"), _CHANNEL_NAME),
            categories=_string_set(where, "categories", entry.get("categories")),
        )
        if unknown := sorted(rule.categories - set(categories())):
            raise RuleSetError(f"{where}: unknown category {unknown} (not in {CATEGORIES_FILE.name}: "
                               f"{sorted(categories())})")
        if not (rule.any or rule.all or rule.categories):
            raise RuleSetError(f"{where}: needs at least one of 'any', 'all', 'patterns' or 'categories'")
        rules.append(rule)
    return tuple(rules)


def load_ruleset(rules_file: Path = DEFAULT_RULES_FILE, units_file: Path = DEFAULT_UNITS_FILE) -> RuleSet:
    """Both files, validated together; any problem raises RuleSetError naming file, rule and problem."""
    rules_raw, units_raw = Path(rules_file).read_bytes(), Path(units_file).read_bytes()
    try:
        registry = parse_registry(units_raw, Path(units_file))
    except RegistryError as error:
        raise RuleSetError(str(error)) from error
    document = _rules_document(rules_raw, Path(rules_file))
    rules = _parse_rules(document, Path(rules_file), registry)
    out_of_scope = _matchers(str(rules_file), "out_of_scope", document.get("out_of_scope"))
    version = hashlib.sha256(rules_raw + b"\0" + units_raw).hexdigest()[:12]
    return RuleSet(rules, registry, version, out_of_scope)
