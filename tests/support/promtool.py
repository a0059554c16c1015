"""Prometheus' own promtool (built by `make k8s-tools` into .local/bin) on the rendered PrometheusRule and the
Grafana dashboard: the rule groups as a plain rules file, and each dashboard query as a recording rule, so that
`promtool check rules` parses every expression as Prometheus would."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool") or str(REPO / ".local" / "bin" / "promtool")
# Grafana's own interval variables, and what a query is parsed with in their place.
GRAFANA_INTERVALS = ("$__rate_interval", "${__rate_interval}", "$__interval", "${__interval}",
                     "$__range", "${__range}")


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """promtool's answer (exit code, output); fails the test if promtool has not been built."""
    import pytest

    if not Path(PROMTOOL).exists():
        pytest.fail("promtool is missing: `make k8s-tools` (or `make k8s-check`) builds it (go install) "
                    "into .local/bin")
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, check=False, cwd=cwd)


def rule_groups(docs: list[dict[str, Any]], name: str = "aduan") -> list[dict[str, Any]]:
    """spec.groups of the PrometheusRule `name`: what the Prometheus Operator hands Prometheus as a rules file."""
    [rule] = [d for d in docs if d["kind"] == "PrometheusRule" and d["metadata"]["name"] == name]
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def write_rules(groups: list[dict[str, Any]], path: Path) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def grafana_to_promql(expr: str) -> str:
    """A panel's query with Grafana's variables replaced by what Prometheus can parse: intervals by 5m, and
    template variables (`$unit`, `${unit}`, `[[unit]]`) by a regex literal that matches anything."""
    for variable in GRAFANA_INTERVALS:
        expr = expr.replace(variable, "5m")
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_:]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z_][A-Za-z0-9_]*\]\]", ".*",
                  expr)


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expr) of every Prometheus query of the dashboard, rows' nested panels included."""
    found = []
    panels = list(dashboard.get("panels", []))
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            if target.get("expr"):
                found.append((f"panel {panel.get('id')} {panel.get('title')!r} {target.get('refId')}",
                              target["expr"]))
    return found


def dashboard_rules(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """One recording rule per query: `promtool check rules` then parses each, and names the broken one."""
    return [{"name": "grafana_dashboard", "rules": [
        {"record": f"dashboard:query_{index}:expr", "expr": grafana_to_promql(expr), "labels": {"where": where}}
        for index, (where, expr) in enumerate(dashboard_queries(dashboard))]}]
