"""Run the rule engine over a labelled file and say how well it routes.

    python -m services.router.evaluate FILE [--rules rules.yaml] [--units units.yaml]

FILE: JSON lines with "text", "expected_unit" and optionally "expected_fallback" and
"channel". Prints a confusion matrix, the misrouted examples, and as the last line
`accuracy=<0..1> fallback_rate=<0..1>`. Needs no broker and no database.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from services.router.routing.rules import DEFAULT_RULES_FILE, DEFAULT_UNITS_FILE, RuleSetError, load_ruleset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES_FILE)
    parser.add_argument("--units", type=Path, default=DEFAULT_UNITS_FILE)
    args = parser.parse_args(argv)
    try:
        ruleset = load_ruleset(args.rules, args.units)
    except RuleSetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    cases = [json.loads(line) for line in args.file.read_text().splitlines() if line.strip()]
    if not cases:
        print(f"error: {args.file} has no examples", file=sys.stderr)
        return 2

    confusion: Counter[tuple[str, str]] = Counter()
    misrouted, correct, fallbacks = [], 0, 0
    for case in cases:
        decision = ruleset.route(case["text"], case.get("channel", "web"), case.get("category"))
        got = decision.unit.code
        confusion[case["expected_unit"], got] += 1
        fallbacks += decision.is_fallback
        if got == case["expected_unit"]:
            correct += 1
        else:
            misrouted.append((case, decision))

    units = [unit.code for unit in ruleset.registry.units]
    units += sorted({u for pair in confusion for u in pair} - set(units))
    width = max(map(len, units)) + 2
    print(f"rule set {ruleset.version}, {len(ruleset.rules)} rules, {len(cases)} examples from {args.file}\n")
    print("confusion matrix (rows: expected, columns: routed to)")
    print("".ljust(width) + "".join(u.rjust(width) for u in units))
    for expected in units:
        print(expected.ljust(width) + "".join(str(confusion[expected, got]).rjust(width) for got in units))
    print(f"\nmisrouted: {len(misrouted)}")
    for case, decision in misrouted:
        print(f"  expected {case['expected_unit']}, got {decision.unit.code} by {decision.rule_id} "
              f"{decision.matched_terms}: {case['text']}")
    print(f"accuracy={correct / len(cases):.3f} fallback_rate={fallbacks / len(cases):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
