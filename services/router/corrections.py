"""The city's corrections as labelled complaints, and what they say about the rules.

    python -m services.router.corrections export OUT.jsonl [--since 2026-01-01]
    python -m services.router.corrections report FILE.jsonl [--rules rules.yaml] [--units units.yaml]

`export` reads the router's database (ADUAN_DB_URL): every complaint a unit has taken on (acknowledged or
further) is labelled with the unit that has it now; one the PPID secretariat closed as "Bukan aduan" is
labelled out of scope. Each line also says what the rules first decided and how it was corrected
(`reassigned`, `handed back` then placed, `not a complaint`, or `confirmed`). The file holds complaint texts
(never a reporter's identity): it is written readable by its owner only. It is what the second opinion
(routing/second_opinion.py) trains on beside services/router/labelled/, and what `report` reads.

`report` replays labelled complaints through the rule set in force and prints which rules misroute most,
the complaints they lose to the fallback, and proposed changes for an administrator to review and make in
rules.yaml as any other change (terms that recur in what a unit received but no rule of it names; terms
that recur where a rule claimed what was not its unit's, as `none:` candidates). Nothing is applied.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import asyncpg

from services.router.application.casework import HANDED_BACK
from services.router.http.back_office import NOT_A_COMPLAINT
from services.router.routing.normalise import normalise
from services.router.routing.rules import DEFAULT_RULES_FILE, DEFAULT_UNITS_FILE, RuleSet, RuleSetError, load_ruleset
from services.router.routing.second_opinion import read_labelled
from shared.settings import DatabaseSettings

SETTLED = ("acknowledged", "responded", "replied", "done", "closed")  # a unit has taken it on
# Words too common in any complaint to tell units apart.
_COMMON = frozenset("""yang di dan ke dari ini itu untuk dengan ada tidak sudah belum saya kami kita mohon tolong
pak bu bapak ibu mas mbak min sy yg dgn utk tdk sdh blm gk ga nggak ya tapi atau juga karena kalau jadi bisa
sama dalam akan pada oleh mau minta sejak hari ini kok lagi terus kota kediri pemkot pemerintah warga kami
surga bahwa""".split())
MIN_SUPPORT = 2  # a term is proposed when it recurs in at least this many complaints...
SPECIFIC = 0.75  # ...and at least this share of the labelled complaints with it are the unit's


_EXPORT = """
SELECT c.text, c.channel, c.category, c.status, f.unit_code AS first_unit, f.rule_id AS first_rule,
       cur.unit_code AS final_unit, cur.sequence AS assignments,
       EXISTS (SELECT 1 FROM assignments h WHERE h.complaint_id = c.complaint_id
                                           AND starts_with(h.reason, $3)) AS handed_back,
       (SELECT s.event ->> 'message' FROM status_changes s
         WHERE s.complaint_id = c.complaint_id AND s.status = 'done' ORDER BY s.sequence DESC LIMIT 1) AS outcome
FROM complaints c
JOIN assignments f ON f.complaint_id = c.complaint_id AND f.sequence = 1
JOIN LATERAL (SELECT unit_code, sequence FROM assignments a WHERE a.complaint_id = c.complaint_id
              ORDER BY a.sequence DESC LIMIT 1) cur ON true
WHERE c.status = ANY($1::text[]) AND c.received_at >= $2
ORDER BY c.received_at
"""


def labelled(row: asyncpg.Record | dict, fallback_unit: str) -> dict:
    """One settled complaint as a labelled example."""
    case = {"text": row["text"], "channel": row["channel"], "first_unit": row["first_unit"],
            "first_rule": row["first_rule"]}
    if row["category"]:
        case["category"] = row["category"]
    if (row["outcome"] or "").startswith(NOT_A_COMPLAINT):
        return case | {"expected_unit": fallback_unit, "expected_fallback": True, "correction": "not a complaint"}
    how = "confirmed" if row["assignments"] == 1 else "handed back" if row["handed_back"] else "reassigned"
    return case | {"expected_unit": row["final_unit"], "correction": how}


async def export(database_url: str, out: Path, since: date, fallback_unit: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SET search_path TO router")
        rows = await conn.fetch(_EXPORT, list(SETTLED), since, HANDED_BACK)
    finally:
        await conn.close()
    out.touch(mode=0o600)
    os.chmod(out, 0o600)  # complaint texts: for the administrator who runs this, not for everyone on the host
    with out.open("w", encoding="utf-8") as file:
        for row in rows:
            file.write(json.dumps(labelled(row, fallback_unit), ensure_ascii=False) + "\n")
    return len(rows)


def _terms(text: str) -> set[str]:
    words = [w for w in normalise(text).split() if w not in _COMMON and len(w) > 2 and not w.isdigit()]
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


def report(ruleset: RuleSet, cases: list[dict]) -> str:
    """Which rules misroute the labelled complaints, and proposed rule changes (for review, not applied)."""
    routed: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    missed: dict[str, list[str]] = defaultdict(list)  # unit -> texts the rules sent elsewhere
    claimed: dict[str, list[str]] = defaultdict(list)  # rule -> texts it claimed that were not its unit's
    kept: dict[str, list[str]] = defaultdict(list)  # rule -> texts it placed right
    for case in cases:
        decision = ruleset.route(case["text"], case.get("channel", "web"), case.get("category"))
        routed[decision.rule_id] += 1
        if decision.unit.code == case["expected_unit"]:
            kept[decision.rule_id].append(case["text"])
            continue
        wrong[decision.rule_id] += 1
        if not case.get("expected_fallback"):
            missed[case["expected_unit"]].append(case["text"])
        if not decision.is_fallback:
            claimed[decision.rule_id].append(case["text"])

    lines = [f"rule set {ruleset.version}: {len(cases)} labelled complaints, "
             f"{sum(wrong.values())} placed elsewhere than where they ended", "",
             "rules by complaints misrouted (wrong / routed):"]
    lines += [f"  {rule:32} {wrong[rule]:4} / {routed[rule]}" for rule, _ in wrong.most_common()]
    # How strongly a term points at a unit, over every labelled complaint: the share of its complaints that
    # are that unit's. A term common to every unit ("kelurahan", "uang") is no rule's term.
    by_term: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        for term in _terms(case["text"]):
            by_term[term][case["expected_unit"]] += 1

    def points_at(term: str, unit: str) -> float:
        return by_term[term][unit] / sum(by_term[term].values())

    named: dict[str, set[str]] = defaultdict(set)
    for rule in ruleset.rules:
        named[rule.unit] |= {normalise(term) for term, _ in rule.any + rule.all}
    lines += ["", f"proposed terms (in at least {MIN_SUPPORT} complaints, {SPECIFIC:.0%} of them the unit's; "
                  "review before adding to rules.yaml):"]
    for unit, texts in sorted(missed.items()):
        counts = Counter(term for text in texts for term in _terms(text))
        proposal = [term for term, n in counts.most_common() if n >= MIN_SUPPORT and term not in named[unit]
                    and points_at(term, unit) >= SPECIFIC]
        lines.append(f"  {unit}: {len(texts)} of its complaints went elsewhere; any: [{', '.join(proposal[:12])}]")
    for rule_id, texts in sorted(claimed.items()):
        unit = next(rule.unit for rule in ruleset.rules if rule.id == rule_id)
        right = Counter(term for text in kept.get(rule_id, []) for term in _terms(text))
        counts = Counter(term for text in texts for term in _terms(text))
        proposal = [term for term, n in counts.most_common() if n >= MIN_SUPPORT and not right[term]
                    and points_at(term, unit) <= 1 - SPECIFIC]
        lines.append(f"  {rule_id}: claimed {len(texts)} that were not its unit's; none: [{', '.join(proposal[:8])}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    out = commands.add_parser("export", help="labelled complaints from the router's database")
    out.add_argument("file", type=Path)
    out.add_argument("--since", type=date.fromisoformat, default=date(2000, 1, 1))
    read = commands.add_parser("report", help="which rules misroute labelled complaints")
    read.add_argument("file", type=Path)
    for command in (out, read):
        command.add_argument("--rules", type=Path, default=DEFAULT_RULES_FILE)
        command.add_argument("--units", type=Path, default=DEFAULT_UNITS_FILE)
    args = parser.parse_args(argv)
    try:
        ruleset = load_ruleset(args.rules, args.units)
        if args.command == "export":
            count = asyncio.run(export(DatabaseSettings().url, args.file, args.since, ruleset.registry.fallback))
            print(f"{count} labelled complaints written to {args.file}")
        else:
            print(report(ruleset, read_labelled(args.file)))
    except (RuleSetError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
