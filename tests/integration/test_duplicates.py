"""Possible duplicates on a real router process: found in the background, shown to the unit that has both
and in the back-office, never across to a unit that has neither."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from shared.contracts import CitizenReplied, Place, Reporter, citizen_reply_id_for
from tests.support import events
from tests.support.inbox import operator_sign_in, sign_in
from tests.support.kafka import events_of, json_values, publish_events, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
TOKENS = {"diskominfo": "kominfo-pass", "bppkad": "bppkad-pass"}
SEMAMPIR = Place(kelurahan="Semampir", kecamatan="Kota")


@pytest.fixture
def router(processes):
    return processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"ani": "op-pass"}),
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps(TOKENS),
        "ADUAN_ROUTER_INBOX_SECRET": "inbox-test-secret-0123456789abcdef",
        "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false", "ADUAN_ROUTER_DUPLICATE_CHECK_SECONDS": "0.5",
        "ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "1"})


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


async def linked_page(client: httpx.AsyncClient, code: str) -> str:
    for _ in range(40):  # the finder runs every half second
        page = (await client.get(f"/unit/aduan/{code}")).text
        if "Kemungkinan duplikat dari" in page:
            return page
        await asyncio.sleep(0.5)
    raise AssertionError("no possible duplicate shown within 20 s")


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


async def test_a_merged_complaint_follows_the_earlier_one_and_its_citizen_hears_that_outcome(router, infra, topics):
    first = events.received("Dengan hormat, hotspot gratis di balai Kelurahan Semampir tidak dapat digunakan "
                            "sejak hari Senin. Perangkat terhubung tetapi tidak ada akses internet.", place=SEMAMPIR)
    second = events.received("surga wifi hotspot balai kel semampir gk bs dipake dr senin, konek tp gk ada internet",
                             place=SEMAMPIR, reporter=Reporter(phone="+6281355554444"))
    await publish_events(infra.kafka_bootstrap, topics.received, [first])
    await read_topic(infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 1)
    await publish_events(infra.kafka_bootstrap, topics.received, [second])
    await read_topic(infra.kafka_bootstrap, topics.assigned, until=lambda r: len(r) >= 2)

    async with httpx.AsyncClient(base_url=router.url) as unit:
        assert (await sign_in(unit, "diskominfo", TOKENS["diskominfo"])).status_code == 303
        page = await linked_page(unit, second.tracking_code)
        assert f'action="/unit/aduan/{second.tracking_code}/gabung"' in page  # the one click
        merged = await unit.post(f"/unit/aduan/{second.tracking_code}/gabung",
                                 data={"csrf": csrf_of(page), "ke": first.tracking_code})
        assert (merged.status_code, merged.headers["location"]) == (303, f"/unit/aduan/{first.tracking_code}")
        inbox = (await unit.get("/unit")).text
        assert first.tracking_code in inbox and second.tracking_code not in inbox  # one entry for the two
        later = (await unit.get(f"/unit/aduan/{second.tracking_code}")).text
        assert "digabung dengan aduan" in later and "Kirim tanggapan" not in later
        refused = await unit.post(f"/unit/aduan/{second.tracking_code}/terima", data={"csrf": csrf_of(page)})
        assert refused.status_code == 409 and "digabung" in refused.text
        again = await unit.post(f"/unit/aduan/{first.tracking_code}/gabung",
                                data={"csrf": csrf_of(page), "ke": second.tracking_code})
        assert again.status_code == 409  # merged once

        # The unit answers the earlier complaint: the merged one takes the same step, published by the outbox.
        page = (await unit.get(f"/unit/aduan/{first.tracking_code}")).text
        for action, message in (("terima", ""), ("tanggapi", "Perangkat hotspot sudah diganti, silakan dicoba.")):
            answer = await unit.post(f"/unit/aduan/{first.tracking_code}/{action}",
                                     data={"csrf": csrf_of(page), "pesan": message})
            assert answer.status_code == 303
    mirrored = await events_of(infra.kafka_bootstrap, topics.status, second.complaint_id, 2)
    assert [(e["status"], e["message"]) for e in mirrored] == [
        ("acknowledged", None), ("responded", "Perangkat hotspot sudah diganti, silakan dicoba.")]
    assert mirrored[1]["tracking_code"] == second.tracking_code and mirrored[1]["sealed_contact"]

    # The second citizen writes back: the reply reaches the surviving complaint, whose unit answers both.
    reply = CitizenReplied(reply_id=citizen_reply_id_for("web", f"api:{uuid.uuid4()}"),
                           complaint_id=second.complaint_id, tracking_code=second.tracking_code, channel="web",
                           text="Masih belum bisa konek sampai sore ini", received_at=datetime.now(UTC),
                           producer="tests", correlation_id=second.complaint_id)
    await publish_events(infra.kafka_bootstrap, topics.citizen_replies, [reply])
    survivor = await events_of(infra.kafka_bootstrap, topics.status, first.complaint_id, 3)
    assert (survivor[2]["status"], survivor[2]["message"]) == ("replied", "Masih belum bisa konek sampai sore ini")
