"""The unit inbox and the units' API steps, on a real router process: every action by the unit that
has the complaint works and is published; by anyone else, with a guessed id, a forged or expired
link, or without the form's CSRF token, it is refused and changes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from shared import unit_access
from shared.contracts import Anonymity, Location, Place, Reporter
from tests.support import events
from tests.support.inbox import open_link, sign_in
from tests.support.kafka import events_of, json_values, publish_events, read_all, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
SECRET = "inbox-test-secret-0123456789abcdef"
TOKENS = {"bppkad": "bppkad-pass", "hukum": "hukum-pass", "diskominfo": "kominfo-pass"}
ACTIONS = ["terima", "tanggapi", "selesai", "bukan-wewenang"]


@pytest.fixture
def router(processes):
    return processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"ani": "op-pass"}),
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps(TOKENS),
        "ADUAN_ROUTER_INBOX_SECRET": SECRET, "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false",
        "ADUAN_ROUTER_OUTBOX_CHECK_SECONDS": "1"})


async def routed(infra, topics, *received):
    await publish_events(infra.kafka_bootstrap, topics.received, list(received))
    ids = {e.complaint_id for e in received}
    records = await read_topic(infra.kafka_bootstrap, topics.assigned,
                               until=lambda r: ids <= {v["complaint_id"] for v in json_values(r)})
    return {v["complaint_id"]: v for v in json_values(records)}


@asynccontextmanager
async def signed_in(router, unit: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url) as client:
        answer = await sign_in(client, unit, TOKENS[unit])
        assert answer.status_code == 303 and answer.headers["location"] == "/unit"
        yield client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


async def statuses(infra, topics, complaint_id: str, count: int) -> list[dict]:
    return await events_of(infra.kafka_bootstrap, topics.status, complaint_id, count)


@pytest.fixture
async def two_complaints(router, infra, topics):
    tax = events.received("SURGA nama di SPPT PBB masih atas nama pemilik lama", anonymity=Anonymity.RAHASIA,
                          reporter=Reporter(name="Budi Santoso", phone="+6281299887766"))
    law = events.received("SURGA mohon bantuan hukum soal sengketa tanah warisan dengan tetangga")
    assigned = await routed(infra, topics, tax, law)
    assert assigned[tax.complaint_id]["unit"]["code"] == "bppkad"
    assert assigned[law.complaint_id]["unit"]["code"] == "hukum"
    return tax, law


async def test_a_unit_walks_its_complaint_from_inbox_to_done_and_every_step_is_published(
        router, infra, topics, two_complaints):
    tax, law = two_complaints
    async with signed_in(router, "bppkad") as bppkad:
        inbox = (await bppkad.get("/unit")).text
        assert tax.tracking_code in inbox and law.tracking_code not in inbox
        page = (await bppkad.get(f"/unit/aduan/{tax.tracking_code}")).text
        # Rahasia: the unit reads the complaint, never who sent it.
        assert "SPPT PBB" in page and "Budi" not in page and "99887766" not in page
        csrf = csrf_of(page)
        for action, form in [("terima", {}), ("tanggapi", {"pesan": "SPPT sudah dibetulkan, ambil di loket"}),
                             ("selesai", {"pesan": "Selesai, terima kasih"})]:
            answer = await bppkad.post(f"/unit/aduan/{tax.tracking_code}/{action}", data={"csrf": csrf, **form})
            assert answer.status_code == 303, (action, answer.text)
        after_done = await bppkad.post(f"/unit/aduan/{tax.tracking_code}/tanggapi",
                                       data={"csrf": csrf, "pesan": "Tambahan keterangan"})
        assert after_done.status_code == 409 and "selesai" in after_done.text
    published = await statuses(infra, topics, tax.complaint_id, 3)
    assert [(e["sequence"], e["status"]) for e in published] == [(1, "acknowledged"), (2, "responded"), (3, "done")]
    assert published[1]["message"] == "SPPT sudah dibetulkan, ambil di loket"
    assert all(e["actor"] == "unit:bppkad" and e["unit"]["code"] == "bppkad" for e in published)


async def test_another_unit_a_guessed_id_or_a_missing_csrf_token_changes_nothing(router, infra, topics, two_complaints):
    tax, law = two_complaints
    async with signed_in(router, "hukum") as hukum, signed_in(router, "bppkad") as bppkad:
        hukum_csrf = csrf_of((await hukum.get("/unit")).text)
        bppkad_csrf = csrf_of((await bppkad.get("/unit")).text)
        assert (await hukum.get(f"/unit/aduan/{tax.tracking_code}")).status_code == 404
        assert (await hukum.get(f"/unit/aduan/{tax.complaint_id}")).status_code == 404
        for action in ACTIONS:
            form = {"csrf": hukum_csrf, "pesan": "Ini bukan urusan kami sama sekali"}
            assert (await hukum.post(f"/unit/aduan/{tax.tracking_code}/{action}", data=form)).status_code == 404
            assert (await hukum.post(f"/unit/aduan/AAAAA-AAAAA/{action}", data=form)).status_code == 404
            # Its own complaint, but a CSRF token from another session, or none: refused.
            foreign = {"csrf": bppkad_csrf, "pesan": "Dikirim dari halaman lain"}
            assert (await hukum.post(f"/unit/aduan/{law.tracking_code}/{action}", data=foreign)).status_code == 403
            assert (await hukum.post(f"/unit/aduan/{law.tracking_code}/{action}",
                                     data={"pesan": "tanpa token"})).status_code == 403
        deleted = await hukum.post(f"/unit/aduan/{law.tracking_code}/hapus", data={"csrf": hukum_csrf})
        assert deleted.status_code == 404
    async with httpx.AsyncClient(base_url=router.url) as anonymous:
        for action in ACTIONS:
            answer = await anonymous.post(f"/unit/aduan/{tax.tracking_code}/{action}", data={"pesan": "coba-coba"})
            assert answer.status_code == 303 and answer.headers["location"] == "/unit/masuk"
        assert (await anonymous.get("/unit")).headers["location"] == "/unit/masuk"
    forged_cookie = {"aduan_unit": f"bppkad.inbox.9999999999.{'A' * 43}"}
    async with httpx.AsyncClient(base_url=router.url, cookies=forged_cookie) as forger:
        assert (await forger.get("/unit")).status_code == 303
    async with httpx.AsyncClient(base_url=router.url) as anonymous:
        wrong = await sign_in(anonymous, "bppkad", TOKENS["hukum"])
        assert wrong.status_code == 401 and "aduan_unit" not in wrong.headers.get("set-cookie", "")
    # The units' JSON API: the same rules with bearer tokens.
    async with httpx.AsyncClient(base_url=router.url) as api:
        for action in ["acknowledge", "respond", "done", "not-our-authority"]:
            body = {"message": "Ini bukan urusan kami", "reason": "Ini bukan urusan kami"}
            url = f"/api/v1/complaints/{tax.tracking_code}/{action}"
            assert (await api.post(url, json=body)).status_code == 401
            assert (await api.post(url, json=body, headers={"Authorization": "Bearer hukum-pass"})).status_code == 404
    # Nothing of all that reached the status topic; the other unit's own step still works.
    async with signed_in(router, "hukum") as hukum:
        csrf = csrf_of((await hukum.get("/unit")).text)
        assert (await hukum.post(f"/unit/aduan/{law.tracking_code}/terima", data={"csrf": csrf})).status_code == 303
    [only] = await statuses(infra, topics, law.complaint_id, 1)
    assert only["status"] == "acknowledged"
    on_status_topic = {v["complaint_id"] for v in json_values(await read_all(infra.kafka_bootstrap, topics.status))}
    assert law.complaint_id in on_status_topic and tax.complaint_id not in on_status_topic


async def test_signed_links_open_only_their_units_complaint_until_they_expire(router, infra, topics, two_complaints):
    tax, law = two_complaints
    good = unit_access.link_url(SECRET, router.url, "bppkad", tax.tracking_code, 3600)
    async with httpx.AsyncClient(base_url=router.url) as browser:
        opened = await open_link(browser, good)
        assert opened.status_code == 303 and opened.headers["location"] == f"/unit/aduan/{tax.tracking_code}"
        assert (await browser.get(opened.headers["location"])).status_code == 200
        # The session it gives is the unit's, and only that unit's.
        assert (await browser.get(f"/unit/aduan/{law.tracking_code}")).status_code == 404
    token = good.split("t=")[1]
    unit, subject, expires, nonce, signature = token.split(".")
    bad_links = {
        "other unit, same signature": f"hukum.{subject}.{expires}.{nonce}.{signature}",
        "later expiry, same signature": f"{unit}.{subject}.{int(expires) + 86400}.{nonce}.{signature}",
        "another nonce, same signature": f"{unit}.{subject}.{expires}.{'0' * 16}.{signature}",
        "expired": unit_access.issue(SECRET, unit_access.LINK, "bppkad", tax.tracking_code, -1),
        "wrong secret": unit_access.issue("another-secret", unit_access.LINK, "bppkad", tax.tracking_code, 3600),
        "a session passed off as a link": unit_access.issue(SECRET, unit_access.SESSION, "bppkad", "inbox", 3600),
        "garbage": "not-a-token",
    }
    async with httpx.AsyncClient(base_url=router.url) as browser:
        for why, bad in bad_links.items():
            for answer in (await browser.get("/unit/tautan", params={"t": bad}),
                           await browser.post("/unit/tautan", data={"t": bad})):
                assert answer.status_code == 403, why
                assert "aduan_unit" not in answer.headers.get("set-cookie", ""), why
        # A link for a complaint the unit no longer has opens nothing of it.
        link = unit_access.link_url(SECRET, router.url, "hukum", tax.tracking_code, 3600)
        opened = await open_link(browser, link)
        assert (await browser.get(opened.headers["location"])).status_code == 404


async def test_not_our_authority_sends_it_to_triage_and_the_old_unit_loses_it(router, infra, topics, two_complaints):
    tax, _ = two_complaints
    async with signed_in(router, "bppkad") as bppkad:
        csrf = csrf_of((await bppkad.get("/unit")).text)
        short = await bppkad.post(f"/unit/aduan/{tax.tracking_code}/bukan-wewenang", data={"csrf": csrf, "pesan": ""})
        assert short.status_code == 409
        answer = await bppkad.post(f"/unit/aduan/{tax.tracking_code}/bukan-wewenang",
                                   data={"csrf": csrf, "pesan": "Urusan kelurahan, bukan pajak"})
        assert answer.status_code == 303
        assert tax.tracking_code not in (await bppkad.get("/unit")).text
    async with signed_in(router, "diskominfo") as triage:
        page = (await triage.get(f"/unit/aduan/{tax.tracking_code}")).text
        assert "Bukan wewenang: Urusan kelurahan, bukan pajak" in page
        assert "bukan-wewenang" not in page  # triage cannot hand it back to itself
    [returned] = await statuses(infra, topics, tax.complaint_id, 1)
    assert (returned["status"], returned["actor"]) == ("returned", "unit:bppkad")
    latest = (await events_of(infra.kafka_bootstrap, topics.assigned, tax.complaint_id, 2))[-1]
    assert (latest["sequence"], latest["unit"]["code"], latest["assigned_by"]) == (2, "diskominfo", "unit:bppkad")


async def test_typed_text_with_control_characters_is_stored_without_them(router, infra, topics, two_complaints):
    tax, _ = two_complaints
    async with httpx.AsyncClient(base_url=router.url, headers={"Authorization": "Bearer bppkad-pass"}) as api:
        answer = await api.post(f"/api/v1/complaints/{tax.tracking_code}/respond",
                                json={"message": "Sudah\u0000 kami\u0007 betulkan"})
        assert answer.status_code == 202, answer.text
        only_controls = await api.post(f"/api/v1/complaints/{tax.tracking_code}/respond",
                                       json={"message": "\u0000\u0001\u0002\u0003\u0004"})
        assert only_controls.status_code == 409
    [responded] = await statuses(infra, topics, tax.complaint_id, 1)
    assert responded["message"] == "Sudah kami betulkan"


async def test_the_case_page_shows_the_place_a_map_link_and_why_the_complaint_came(router, infra, topics):
    place = Place(kelurahan="Bandar Lor", kecamatan="Mojoroto", street="gang 3 depan masjid")
    law = events.received("SURGA mohon bantuan hukum soal sengketa batas tanah dengan tetangga", place=place
                          ).model_copy(update={"location": Location(latitude=-7.8166, longitude=112.0112)})
    assigned = (await routed(infra, topics, law))[law.complaint_id]
    async with signed_in(router, "hukum") as hukum:
        page = (await hukum.get(f"/unit/aduan/{law.tracking_code}")).text
    assert "Wilayah: Kel. Bandar Lor, Kec. Mojoroto" in page and "Patokan: gang 3 depan masjid" in page
    pin = "https://www.openstreetmap.org/?mlat=-7.816600&amp;mlon=112.011200#map=18/-7.816600/112.011200"
    assert f'href="{pin}"' in page
    assert "Dasar penerusan" in page and f'Aturan "{assigned["rule_id"]}"' in page
