"""The alerts of the PrometheusRule `aduan` (deploy/k8s/base/monitoring.yaml), as rendered by kustomize, checked
and unit-tested by Prometheus' own promtool: tests/deploy/alerts has one promtool test file per alert, with
series named and labelled as the code (and Strimzi's Kafka Exporter) exports them. Also: every query of the
Grafana dashboard parses as PromQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_manifests import render
from tests.support.promtool import dashboard_rules, promtool, rule_groups, write_rules

ALERT_TESTS = Path(__file__).resolve().parent / "alerts"
RULES_FILE = "aduan-rules.yaml"  # what each test file's rule_files names


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return render("production")


@pytest.fixture
def rules_dir(production, tmp_path) -> Path:
    """The rendered rule groups as a rules file, beside copies of the test files (promtool reads rule_files
    relative to the test file)."""
    write_rules(rule_groups(production), tmp_path / RULES_FILE)
    for test_file in ALERT_TESTS.glob("*.yaml"):
        shutil.copy(test_file, tmp_path / test_file.name)
    return tmp_path


def _output(result) -> str:
    return f"promtool exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


def test_promtool_accepts_the_rules(rules_dir):
    result = promtool("check", "rules", "--lint=all", "--lint-fatal", RULES_FILE, cwd=rules_dir)
    if result.returncode != 0:
        pytest.fail(_output(result))


def test_the_alerts_fire_when_they_should_and_only_then(rules_dir):
    files = sorted(path.name for path in ALERT_TESTS.glob("*.yaml"))
    assert files, f"no promtool test files in {ALERT_TESTS}"
    result = promtool("test", "rules", *files, cwd=rules_dir)
    if result.returncode != 0:
        pytest.fail(_output(result))


def test_every_alert_has_a_case_that_fires_and_one_that_must_not(production):
    alerts = {rule["alert"] for group in rule_groups(production) for rule in group["rules"] if "alert" in rule}
    fires, quiet = set(), set()
    for path in ALERT_TESTS.glob("*.yaml"):
        spec = yaml.safe_load(path.read_text())
        assert spec["rule_files"] == [RULES_FILE], path.name
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - fires == set(), f"no promtool case where these fire: {sorted(alerts - fires)}"
    assert alerts - quiet == set(), f"no promtool case where these must stay quiet: {sorted(alerts - quiet)}"
    assert (fires | quiet) - alerts == set(), f"tests of alerts that do not exist: {sorted((fires | quiet) - alerts)}"


def test_every_dashboard_query_parses(production, tmp_path):
    [config] = [c for c in production if c["kind"] == "ConfigMap" and c["metadata"]["name"] == "aduan-dashboard"]
    groups = dashboard_rules(json.loads(config["data"]["aduan-flow.json"]))
    assert len(groups[0]["rules"]) >= 8
    write_rules(groups, tmp_path / "dashboard-queries.yaml")
    result = promtool("check", "rules", "dashboard-queries.yaml", cwd=tmp_path)
    if result.returncode != 0:
        pytest.fail(_output(result))
