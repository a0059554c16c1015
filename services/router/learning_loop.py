"""The correction loop, simulated on labelled complaints the router never saw: start from the shipped rules,
take one part of the file as the city's corrections, and measure on the other part what routing gains
when the second opinion also learns from those corrections.

    python -m services.router.learning_loop HELD_OUT.jsonl [--corrections 0.5] [--seed 7] [--threshold 0.6]

Prints, on the evaluated part: the shipped rules alone; with the second opinion trained on the labelled
corpus (services/router/labelled/); with it trained on the corpus and the corrections; then the rules
report on the corrections (corrections.py: the proposals an administrator would review). Last line, the
last configuration: `accuracy=... fallback_rate=...`.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from services.router.corrections import report
from services.router.evaluate import score
from services.router.routing.rules import load_ruleset
from services.router.routing.second_opinion import THRESHOLD, SecondOpinion, read_labelled
from services.router.routing.second_opinion import corpus as labelled_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--corrections", type=float, default=0.5, help="share of FILE taken as corrections")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    args = parser.parse_args(argv)
    cases = read_labelled(args.file)
    random.Random(args.seed).shuffle(cases)
    cut = int(len(cases) * args.corrections)
    corrections, evaluated = cases[:cut], cases[cut:]
    if not corrections or not evaluated:
        print("error: both parts need complaints", file=sys.stderr)
        return 2
    ruleset = load_ruleset()
    corpus = labelled_corpus()
    print(f"{args.file}: {len(corrections)} taken as the city's corrections, {len(evaluated)} evaluated "
          f"(seed {args.seed}); corpus {len(corpus)} labelled complaints; threshold {args.threshold}\n")
    last = None
    for name, second in [("shipped rules", None),
                         ("+ second opinion, corpus", SecondOpinion(corpus, args.threshold)),
                         ("+ second opinion, corpus and corrections", SecondOpinion(corpus + corrections,
                                                                                    args.threshold))]:
        last = score(ruleset, second, evaluated)
        print(f"{name:42} {last.last_line()}  {last.summary()}")
    print("\n" + report(ruleset, corrections))
    assert last is not None
    print(last.last_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
