"""lapor_sync against the real broker and database and the LAPOR! stand-in server."""

from __future__ import annotations

import httpx
import pytest

from tests.support import events
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
TOKEN = {"Authorization": "Bearer local-standin-token"}


@pytest.fixture
def lapor_sync(processes, lapor_standin):
    return processes.start("lapor-sync", "services.lapor_sync", "ADUAN_LAPOR_SYNC_PORT",
                           {"ADUAN_LAPOR_SYNC_LAPOR_BASE_URL": lapor_standin.url})


def reports_for(standin, reference: str) -> list[dict]:
    items = httpx.get(f"{standin.url}/api/v1/reports", headers=TOKEN).json()["items"]
    return [item for item in items if item["reference"] == reference]


async def test_one_lapor_report_per_complaint_and_its_id_stored(lapor_sync, lapor_standin, infra, topics, db):
    assigned = events.assigned("Kendaraan dinas bekas lelang aset daerah belum diserahkan ke pemenang")
    for _ in range(3):
        await publish(infra.kafka_bootstrap, topics.assigned, assigned.model_dump_json().encode(),
                      key=assigned.complaint_id.encode())

    stored = await eventually(lambda: db.fetchval(
        "SELECT lapor_tracking_id FROM lapor_sync.reports WHERE complaint_id = $1", assigned.complaint_id))
    # Let all three copies be processed, then count what LAPOR! holds.
    later = events.assigned("Hotspot wifi di alun-alun lemot sekali")
    await publish(infra.kafka_bootstrap, topics.assigned, later.model_dump_json().encode(),
                  key=assigned.complaint_id.encode())  # same key: same partition, after the copies
    assert await eventually(lambda: reports_for(lapor_standin, later.complaint_id))
    reports = reports_for(lapor_standin, assigned.complaint_id)
    assert [r["tracking_id"] for r in reports] == [stored]
    assert reports[0]["request"]["reporter"]["name"] == "Siti Aminah"


async def test_existing_report_is_found_not_created_again(lapor_sync, lapor_standin, infra, topics, db):
    """A crash after LAPOR! created the report but before we stored its id."""
    from services.lapor_sync.lapor_contract import LaporClient, report_from_assignment

    assigned = events.assigned("Pembayaran PBB lewat bank gagal tapi saldo terpotong",
                               anonymity=events.Anonymity.ANONIM)
    client = LaporClient(lapor_standin.url, "local-standin-token")
    created_before = await client.create_report(report_from_assignment(assigned))
    await client.close()

    await publish(infra.kafka_bootstrap, topics.assigned, assigned.model_dump_json().encode(),
                  key=assigned.complaint_id.encode())
    stored = await eventually(lambda: db.fetchval(
        "SELECT lapor_tracking_id FROM lapor_sync.reports WHERE complaint_id = $1", assigned.complaint_id))
    assert stored == created_before.tracking_id
    [report] = reports_for(lapor_standin, assigned.complaint_id)
    assert report["request"]["reporter"] is None  # anonim: identity not sent to LAPOR! either
    assert report["request"]["anonymity"] == "anonim"
