"""Rule changes take effect without a restart; an invalid rule set never replaces the one in force."""

from __future__ import annotations

import shutil
import signal

import httpx
import pytest

from shared.units import DEFAULT_UNITS_FILE
from tests.support import events
from tests.support.kafka import eventually, json_values, publish_events, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def route_one(infra, topics, text: str) -> dict:
    event = events.received(text)
    await publish_events(infra.kafka_bootstrap, topics.received, [event])
    records = await read_topic(infra.kafka_bootstrap, topics.assigned,
                               until=lambda r: event.complaint_id in {v["complaint_id"] for v in json_values(r)})
    return next(v for v in json_values(records) if v["complaint_id"] == event.complaint_id)


def metric(router, name: str) -> float:
    for line in httpx.get(router.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def router_with_rules(processes, tmp_path, rules_text: str, check_seconds: str):
    """A router reading its rules from a file of this test's; returns (router, rules file)."""
    rules, units = tmp_path / "rules.yaml", tmp_path / "units.yaml"
    shutil.copy(DEFAULT_UNITS_FILE, units)
    rules.write_text(rules_text)
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_RULES_FILE": str(rules), "ADUAN_ROUTER_UNITS_FILE": str(units),
        "ADUAN_ROUTER_RULES_CHECK_SECONDS": check_seconds})
    return router, rules


async def test_rules_reload_on_change_and_invalid_rules_are_refused(processes, infra, topics, tmp_path):
    router, rules = router_with_rules(
        processes, tmp_path, "rules:\n  - {id: lampu-ke-hukum, unit: hukum, any: [lampu]}\n", "0.2")
    first = await route_one(infra, topics, "lampu jalan mati")
    assert (first["unit"]["code"], first["rule_id"]) == ("hukum", "lampu-ke-hukum")

    rules.write_text("rules:\n  - {id: lampu-ke-bppkad, unit: bppkad, any: [lampu]}\n")
    assert await eventually(lambda: "ruleset_reloaded" in router.log(), timeout=10)
    second = await route_one(infra, topics, "lampu jalan mati lagi")
    assert (second["unit"]["code"], second["rule_id"]) == ("bppkad", "lampu-ke-bppkad")
    assert second["ruleset_version"] != first["ruleset_version"]

    rules.write_text("rules:\n  - {id: rusak, unit: dinas-tidak-ada, any: [lampu]}\n")
    assert await eventually(lambda: metric(router, "aduan_ruleset_reload_failures_total") >= 1, timeout=10)
    third = await route_one(infra, topics, "lampu jalan mati terus")
    assert third["ruleset_version"] == second["ruleset_version"]  # the valid set stayed in force
    assert "dinas-tidak-ada" in router.log()  # the log says what was wrong


async def test_sighup_reloads_at_once(processes, infra, topics, tmp_path):
    router, rules = router_with_rules(processes, tmp_path, "rules:\n  - {id: a, unit: hukum, any: [lampu]}\n", "3600")
    rules.write_text("rules:\n  - {id: b, unit: prokopim, any: [lampu]}\n")
    router.process.send_signal(signal.SIGHUP)
    assert await eventually(lambda: "ruleset_reloaded" in router.log(), timeout=10)
    assert (await route_one(infra, topics, "lampu mati"))["rule_id"] == "b"
