"""Evidence a unit can see: the web form's photo kept in the real S3-compatible store (SeaweedFS, started by
`make test`), shown in the assigned unit's inbox and to no one else, without metadata, and not lost while
the store restarts."""

from __future__ import annotations

import io
import re
import subprocess

import httpx
import pytest
from PIL import Image

from shared.evidence import EvidenceSettings, EvidenceStore, key_of
from tests.integration.test_unit_inbox import TOKENS, routed, signed_in
from tests.integration.test_unit_inbox import router as router  # noqa: F401  (the fixture)
from tests.security.test_photos import MAKER, PLACE, _photo
from tests.support.kafka import json_values, read_topic
from tests.support.processes import REPO

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
S3 = REPO / "deploy" / "local" / "s3.sh"


@pytest.fixture
def web(processes):
    return processes.start("web", "services.intake.web", "ADUAN_WEB_PORT", {"ADUAN_WEB_SUBMISSIONS_BURST": "100"})


@pytest.fixture
async def store():
    async with EvidenceStore(EvidenceSettings()) as opened:
        yield opened


async def send_form(http: httpx.AsyncClient, text: str, photo: bytes, **fields: str) -> httpx.Response:
    page = (await http.get("/")).text
    hidden = {name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1)
              for name in ("csrf_token", "submission_id")}
    return await http.post("/aduan", data={**hidden, "text": text, **fields},
                           files={"photo": ("foto.jpg", photo, "image/jpeg")})


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size, image.convert("RGB").tobytes()


async def test_a_web_photo_reaches_the_assigned_units_inbox_and_no_other_unit(web, router, infra, topics, store):  # noqa: F811
    sent = _photo("JPEG")  # with the maker, a GPS position and a comment, as phones send
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        answer = await send_form(http, "SURGA mohon bantuan hukum soal sengketa batas tanah dengan tetangga", sent,
                                 anonymity="rahasia")
    assert answer.status_code == 200 and "Foto terlampir" in answer.text, answer.text[:500]
    [event] = json_values(await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= 1))
    [attachment] = event["attachments"]
    assert key_of(attachment["reference"]) and attachment["mime_type"] == "image/jpeg"
    kept = (await store.get(attachment["reference"])).data
    assert MAKER.encode() not in kept and PLACE not in kept and b"Exif" not in kept  # a rahasia reporter's home
    assert pixels(kept)[:2] == ("JPEG", (30, 40))  # upright, as the phone showed it

    from shared.contracts import ComplaintReceived
    received = ComplaintReceived.model_validate(event)
    assigned = (await routed(infra, topics, received))[received.complaint_id]
    assert assigned["unit"]["code"] == "hukum" and assigned["attachments"] == event["attachments"]
    url = f"/unit/aduan/{received.tracking_code}/lampiran/0"
    async with signed_in(router, "hukum") as hukum:
        page = (await hukum.get(f"/unit/aduan/{received.tracking_code}")).text
        assert f'<a href="{url}"><img src="{url}?ukuran=kecil"' in page
        full = await hukum.get(url)
        small = await hukum.get(url, params={"ukuran": "kecil"})
        assert (await hukum.get(f"/unit/aduan/{received.tracking_code}/lampiran/1")).status_code == 404
    assert full.status_code == 200 and full.content == kept and full.headers["content-type"] == "image/jpeg"
    assert full.headers["cache-control"] == "private, no-store" and "sandbox" in full.headers["content-security-policy"]
    assert small.status_code == 200 and pixels(small.content)[0] == "JPEG"
    # Another unit, and nobody signed in, get nothing: not the photo, not that it exists.
    async with signed_in(router, "bppkad") as bppkad:
        other = await bppkad.get(url)
    assert other.status_code == 404 and other.content != kept
    async with httpx.AsyncClient(base_url=router.url) as nobody:
        anonymous = await nobody.get(url)
    assert anonymous.status_code in (303, 307) and anonymous.headers["location"].endswith("/unit/masuk")
    assert set(TOKENS) >= {"hukum", "bppkad"}


async def test_forms_sent_while_the_store_is_down_are_refused_then_kept_and_nothing_is_lost(web, infra, topics,
                                                                                          store):
    """Bounded: five forms; the store is stopped after the second and started again once a form has been
    refused. A refused form (503 + Retry-After) is sent again, as the citizen or the browser would, and is
    then the same complaint, taken once; every complaint has its photo stored."""
    photo = _photo("PNG")
    codes: list[str] = []
    refused = 0
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        for n in range(5):
            if n == 2:
                subprocess.run([str(S3), "stop"], check=True, timeout=60)
            text = f"Jalan berlubang nomor {n} di depan pasar, mohon segera ditambal"
            page = (await http.get("/")).text
            form = {name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1)
                    for name in ("csrf_token", "submission_id")}
            for _attempt in range(10):
                answer = await http.post("/aduan", data={**form, "text": text},
                                         files={"photo": ("foto.png", photo, "image/png")})
                if answer.status_code == 200:
                    codes.append(re.search(r'id="tracking-code">([0-9A-Z-]{11})<', answer.text).group(1))
                    break
                assert answer.status_code == 503 and answer.headers["retry-after"], answer.text[:300]
                refused += 1
                subprocess.run([str(S3), "start"], check=True, timeout=120)  # back, as after a restart
            else:
                raise AssertionError(f"form {n} was never taken")
    assert refused >= 1 and len(set(codes)) == 5
    records = await read_topic(infra.kafka_bootstrap, topics.received,
                               until=lambda r: set(codes) <= {e["tracking_code"] for e in json_values(r)})
    events = [e for e in json_values(records) if e["tracking_code"] in codes]
    assert len(events) == 5  # the form sent again was published once
    for event in events:
        [attachment] = event["attachments"]
        assert pixels((await store.get(attachment["reference"])).data)[0] == "PNG"
