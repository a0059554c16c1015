"""SIGKILL the router while complaints flow: nothing lost, no second assignment, no second decision."""

from __future__ import annotations

import signal

import pytest

from tests.support import events
from tests.support.kafka import eventually, json_values, publish_events, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
COMPLAINTS = 1500
KILL_AT = (200, 700)  # assignments stored when each SIGKILL is sent


async def test_router_killed_twice_under_load_assigns_every_complaint_exactly_once(processes, infra, topics, db):
    texts = ["Petugas loket minta imbalan 100rb", "Hotspot wifi di alun-alun lemot", "Pohon tumbang di jalan",
             "Denda pajak hotel dihitung salah", "Undangan untuk wali kota menghadiri acara"]
    batch = [events.received(texts[n % len(texts)], message_id=f"crash-{topics.prefix}{n}") for n in range(COMPLAINTS)]
    env = {"ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "1"}
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", env)
    await publish_events(infra.kafka_bootstrap, topics.received, batch)

    stored_at_kill = []
    for threshold in KILL_AT:
        stored = await eventually(lambda t=threshold: db.fetchval(
            "SELECT count(*) FROM router.assignments a JOIN router.complaints c USING (complaint_id)"
            " WHERE c.channel_message_id LIKE $1 HAVING count(*) >= $2", f"crash-{topics.prefix}%", t),
            timeout=60, interval=0.02)
        stored_at_kill.append(stored)
        processes.stop(router, signal.SIGKILL)
        router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", env)

    ids = {e.complaint_id for e in batch}
    records = await read_topic(infra.kafka_bootstrap, topics.assigned,
                               until=lambda r: ids <= {v["complaint_id"] for v in json_values(r)}, timeout=120)
    published = json_values(records)
    assert ids <= {v["complaint_id"] for v in published}, "a complaint was never assigned"
    decisions: dict[str, set] = {}
    for value in published:
        decisions.setdefault(value["complaint_id"], set()).add((value["assignment_id"], value["event_id"]))
    assert all(len(d) == 1 for d in decisions.values()), "a complaint was decided twice"
    rows = await db.fetch("SELECT complaint_id, count(*) AS n FROM router.assignments"
                          " WHERE complaint_id = ANY($1::uuid[]) GROUP BY complaint_id", list(ids))
    assert len(rows) == COMPLAINTS and all(row["n"] == 1 for row in rows)
    # The kills really happened mid-stream, not after the work was done.
    assert all(count < COMPLAINTS for count in stored_at_kill), stored_at_kill
    print(f"stored at each SIGKILL: {stored_at_kill}; events published: {len(published)} for {COMPLAINTS}")
