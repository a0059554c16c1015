"""Route a labelled file as the router does (the rules, then the second opinion where they fall back, trained on
the team's corpus in services/router/labelled/) and say how well it routes.

    python -m services.router.evaluate FILE [--rules rules.yaml] [--units units.yaml]
                                            [--corrections CORRECTIONS.jsonl ...] [--threshold 0.6] [--rules-only]

--corrections: more training files for the second opinion (the city's corrections, as the router's
ADUAN_ROUTER_SECOND_OPINION_FILES); --rules-only: the rules alone (ADUAN_ROUTER_SECOND_OPINION=false).

FILE: JSON lines with "text", "expected_unit" and optionally "expected_fallback" (out of scope: the
fallback is right), "channel" and "category". Prints a confusion matrix, the misrouted examples, the share
of in-scope and of out-of-scope complaints sent to the fallback, and as the last line
`accuracy=<0..1> fallback_rate=<0..1>`. Needs no broker and no database.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from services.router.routing.rules import (
    DEFAULT_RULES_FILE,
    DEFAULT_UNITS_FILE,
    Decision,
    RuleSet,
    RuleSetError,
    load_ruleset,
)
from services.router.routing.second_opinion import LABELLED_DIR, THRESHOLD, SecondOpinion, decide, read_labelled


@dataclass
class Score:
    cases: int
    correct: int
    fallbacks: int
    in_scope: int
    in_scope_fallbacks: int
    out_of_scope: int
    out_of_scope_fallbacks: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.cases

    def summary(self) -> str:
        inside = self.in_scope_fallbacks / self.in_scope if self.in_scope else 0.0
        outside = self.out_of_scope_fallbacks / self.out_of_scope if self.out_of_scope else 1.0
        return (f"in-scope to the fallback: {self.in_scope_fallbacks}/{self.in_scope} ({inside:.3f}); "
                f"out-of-scope to the fallback: {self.out_of_scope_fallbacks}/{self.out_of_scope} ({outside:.3f})")

    def last_line(self) -> str:
        return f"accuracy={self.accuracy:.3f} fallback_rate={self.fallbacks / self.cases:.3f}"


def score(ruleset: RuleSet, second: SecondOpinion | None, cases: list[dict],
          misrouted: list[tuple[dict, Decision]] | None = None,
          confusion: Counter[tuple[str, str]] | None = None) -> Score:
    result = Score(len(cases), 0, 0, 0, 0, 0, 0)
    for case in cases:
        decision = decide(ruleset, second, case["text"], case.get("channel", "web"), case.get("category"))
        if confusion is not None:
            confusion[case["expected_unit"], decision.unit.code] += 1
        result.fallbacks += decision.is_fallback
        if case.get("expected_fallback"):
            result.out_of_scope += 1
            result.out_of_scope_fallbacks += decision.is_fallback
        else:
            result.in_scope += 1
            result.in_scope_fallbacks += decision.is_fallback
        if decision.unit.code == case["expected_unit"]:
            result.correct += 1
        elif misrouted is not None:
            misrouted.append((case, decision))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_FILE)
    parser.add_argument("--units", type=Path, default=DEFAULT_UNITS_FILE)
    parser.add_argument("--corrections", type=Path, nargs="+", default=[], metavar="CORRECTIONS")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--rules-only", action="store_true", help="without the second opinion")
    args = parser.parse_args(argv)
    try:
        ruleset = load_ruleset(args.rules, args.units)
        cases = read_labelled(args.file)
        second = (None if args.rules_only
                  else SecondOpinion.from_corpus(*args.corrections, threshold=args.threshold))
    except (RuleSetError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not cases:
        print(f"error: {args.file} has no examples", file=sys.stderr)
        return 2

    confusion: Counter[tuple[str, str]] = Counter()
    misrouted: list[tuple[dict, Decision]] = []
    result = score(ruleset, second, cases, misrouted, confusion)
    units = [unit.code for unit in ruleset.registry.units]
    units += sorted({u for pair in confusion for u in pair} - set(units))
    width = max(map(len, units)) + 2
    print(f"rule set {ruleset.version}, {len(ruleset.rules)} rules, {len(cases)} examples from {args.file}")
    if second is not None:
        print(f"second opinion {second.version}: {second.examples} examples, threshold {second.threshold}")
        if args.file.resolve().parent == LABELLED_DIR:
            print(f"note: {args.file.name} is part of the second opinion's training corpus: these figures are not "
                  "held out (--rules-only, or a file from elsewhere)")
    print("\nconfusion matrix (rows: expected, columns: routed to)")
    print("".ljust(width) + "".join(u.rjust(width) for u in units))
    for expected in units:
        print(expected.ljust(width) + "".join(str(confusion[expected, got]).rjust(width) for got in units))
    print(f"\nmisrouted: {len(misrouted)}")
    for case, decision in misrouted:
        print(f"  expected {case['expected_unit']}, got {decision.unit.code} by {decision.rule_id} "
              f"{decision.matched_terms}: {case['text']}")
    print(result.summary())
    print(result.last_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
