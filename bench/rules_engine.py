"""Routing speed of the pure rule engine (no broker, no database).

    python -m bench.rules_engine [--rounds N]

Routes every labelled complaint in tests/data/*.jsonl, N rounds, and prints complaints per
second beside a baseline measured in the same run: normalisation alone, the part of the
work every engine must do. The last line is a summary: `rules_cps=... normalise_cps=... ratio=...`.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from services.router.routing.normalise import normalise
from services.router.routing.rules import load_ruleset

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def rate(func, texts: list[str], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            func(text)
    return len(texts) * rounds / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for path in sorted(DATA.glob("routing-*.jsonl"))
             for line in path.read_text().splitlines() if line.strip()]
    ruleset = load_ruleset()
    rate(normalise, texts, 5)  # warm-up: regex caches, branch predictors
    normalise_cps = rate(normalise, texts, args.rounds)
    rules_cps = rate(lambda t: ruleset.route(t, "web"), texts, args.rounds)
    print(f"{platform.python_implementation()} {platform.python_version()}, {len(texts)} complaints x "
          f"{args.rounds} rounds, {len(ruleset.rules)} rules")
    print(f"normalise only (baseline): {normalise_cps:10.0f} complaints/s")
    print(f"normalise + all rules:     {rules_cps:10.0f} complaints/s")
    print(f"rules_cps={rules_cps:.0f} normalise_cps={normalise_cps:.0f} ratio={rules_cps / normalise_cps:.2f}")


if __name__ == "__main__":
    main()
