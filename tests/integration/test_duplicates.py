"""Possible duplicates on a real router process: found in the background, shown to the unit that has both
and in the back-office, never across to a unit that has neither."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from shared.contracts import Place, Reporter
from tests.support import events
from tests.support.inbox import operator_sign_in, sign_in
from tests.support.kafka import json_values, publish_events, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
TOKENS = {"diskominfo": "kominfo-pass", "bppkad": "bppkad-pass"}
SEMAMPIR = Place(kelurahan="Semampir", kecamatan="Kota")


@pytest.fixture
def router(processes):
    return processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"ani": "op-pass"}),
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps(TOKENS),
        "ADUAN_ROUTER_INBOX_SECRET": "inbox-test-secret-0123456789abcdef",
        "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false", "ADUAN_ROUTER_DUPLICATE_CHECK_SECONDS": "0.5"})


async def test_two_neighbours_reporting_the_same_hotspot_are_linked_and_the_unit_sees_it(router, infra, topics):
    first = events.received("Dengan hormat, hotspot gratis di balai Kelurahan Semampir tidak dapat digunakan "
                            "sejak hari Senin. Perangkat terhubung tetapi tidak ada akses internet.", place=SEMAMPIR)
    second = events.received("surga wifi hotspot balai kel semampir gk bs dipake dr senin, konek tp gk ada internet",
                             place=SEMAMPIR, reporter=Reporter(phone="+6281355554444"))
    other = events.received("SURGA pajak reklame spanduk toko sy dihitung dobel bulan ini")
    await publish_events(infra.kafka_bootstrap, topics.received, [first])
    await read_topic(infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 1)
    await publish_events(infra.kafka_bootstrap, topics.received, [second, other])
    assigned = {v["complaint_id"]: v for v in json_values(await read_topic(
        infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 3))}
    assert assigned[first.complaint_id]["unit"]["code"] == assigned[second.complaint_id]["unit"]["code"] == "diskominfo"
    assert assigned[other.complaint_id]["unit"]["code"] == "bppkad"

    async with httpx.AsyncClient(base_url=router.url) as unit:
        assert (await sign_in(unit, "diskominfo", TOKENS["diskominfo"])).status_code == 303
        for _ in range(40):  # the finder runs every half second
            page = (await unit.get(f"/unit/aduan/{second.tracking_code}")).text
            if "Kemungkinan duplikat dari" in page:
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("no possible duplicate shown within 20 s")
        assert f'href="/unit/aduan/{first.tracking_code}"' in page and "kelurahan yang sama" in page
        earlier = (await unit.get(f"/unit/aduan/{first.tracking_code}")).text  # both ways
        assert f'href="/unit/aduan/{second.tracking_code}"' in earlier
    async with httpx.AsyncClient(base_url=router.url) as bppkad:
        assert (await sign_in(bppkad, "bppkad", TOKENS["bppkad"])).status_code == 303
        assert "Kemungkinan duplikat" not in (await bppkad.get(f"/unit/aduan/{other.tracking_code}")).text
    async with httpx.AsyncClient(base_url=router.url) as office:
        assert (await operator_sign_in(office, "ani", "op-pass")).status_code == 303
        page = (await office.get(f"/ppid/aduan/{first.tracking_code}")).text
        assert f'href="/ppid/aduan/{second.tracking_code}"' in page
    assert "possible_duplicates_linked" in router.log() and "6281355554444" not in router.log()
