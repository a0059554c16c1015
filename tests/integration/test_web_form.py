"""The HTML form as a browser would use it, against a real web intake process, Kafka and PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import images
from tests.support.kafka import json_values, read_all, read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
PNG = images.png()  # a real one: the intake decodes it to write it again without metadata


@pytest.fixture
def web(processes):
    return processes.start("web", "services.intake.web", "ADUAN_WEB_PORT",
                           {"ADUAN_WEB_SUBMISSIONS_BURST": "3", "ADUAN_WEB_SUBMISSIONS_PER_MINUTE": "0.5"})


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


async def open_form(http: httpx.AsyncClient) -> dict:
    page = await http.get("/")
    assert page.status_code == 200 and "Sampaikan aduan Anda" in page.text
    return {"csrf_token": hidden(page.text, "csrf_token"), "submission_id": hidden(page.text, "submission_id")}


async def test_form_submission_shows_the_tracking_code_and_escapes_what_was_typed(web, infra, topics):
    text = "<script>alert('x')</script> Lampu mati'; DROP TABLE complaints; --"
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        fields = await open_form(http)
        answer = await http.post("/aduan", data={**fields, "text": text, "anonymity": "rahasia",
                                                 "name": "Budi", "latitude": "-7.8166", "longitude": "112.0111",
                                                 "kelurahan": "Setono Gedong", "address": "Jl. Dhoho"},
                                 files={"photo": ("jalan.png", PNG, "image/png")})
        assert answer.status_code == 200, answer.text
        code = re.search(r'id="tracking-code">([0-9A-Z-]{11})<', answer.text).group(1)
        assert "<script>alert" not in answer.text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in answer.text
        status = await http.get("/status", params={"kode": code.lower()})
        assert status.status_code == 200 and code in status.text
    [event] = json_values(await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= 1))
    assert event["text"] == text  # stored as typed; escaping is the page's job
    assert event["anonymity"] == "rahasia" and event["location"]["latitude"] == -7.8166
    assert event["place"] == {"kelurahan": "Setono Gedong", "kecamatan": "Kota", "street": "Jl. Dhoho"}
    assert event["attachments"][0]["mime_type"] == "image/png"
    assert event["attachments"][0]["reference"].startswith("evidence:complaints/")


async def test_a_kelurahan_not_on_the_list_is_refused_with_the_form_kept(web):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        fields = await open_form(http)
        page = await http.post("/aduan", data={**fields, "text": "Saluran air mampet di depan pasar",
                                               "kelurahan": "Tegalsari", "address": "depan pasar"})
    assert page.status_code == 422 and "Kelurahan tidak dikenal" in page.text
    assert 'value="depan pasar"' in page.text and "<optgroup label=\"Kecamatan Mojoroto\">" in page.text


async def test_resubmitting_the_same_form_is_the_same_complaint(web, infra, topics):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        fields = {**await open_form(http), "text": "Saluran air mampet di depan pasar"}
        first = await http.post("/aduan", data=fields)
        second = await http.post("/aduan", data=fields)  # a double click, or the browser's retry
    code = re.compile(r'id="tracking-code">([0-9A-Z-]{11})<')
    assert code.search(first.text).group(1) == code.search(second.text).group(1)


async def test_post_without_the_csrf_token_is_refused(web, infra, topics):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        fields = await open_form(http)
        forged = await http.post("/aduan", data={**fields, "csrf_token": "forged.token",
                                                 "text": "Saluran air mampet di depan pasar"})
        assert forged.status_code == 403
        http.cookies.clear()  # a cross-site post carries no SameSite=Strict cookie
        no_cookie = await http.post("/aduan", data={**fields, "text": "Saluran air mampet di depan pasar"})
        assert no_cookie.status_code == 403
    assert await read_all(infra.kafka_bootstrap, topics.received) == []  # the intake answers after Kafka has it


async def test_invalid_fields_show_the_form_again_with_messages_and_values(web):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        fields = await open_form(http)
        answer = await http.post("/aduan", data={**fields, "text": "pendek", "phone": "12",
                                                 "email": "bukan-email", "latitude": "utara"},
                                 files={"photo": ("foto.jpg", b"GIF89a not really", "image/jpeg")})
    assert answer.status_code == 422
    for message in ("terlalu pendek", "Nomor telepon tidak valid", "e-mail tidak valid",
                    "Lokasi dari peramban tidak terbaca", "JPEG, PNG, atau WebP"):
        assert message in answer.text
    assert 'value="bukan-email"' in answer.text  # what was typed stays


async def test_photo_over_the_limit_is_refused(web):
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        fields = {**await open_form(http), "text": "Foto jalan rusak terlampir di sini"}
        big = await http.post("/aduan", data=fields, files={"photo": ("big.png", PNG + b"\x00" * (5 * 1024 * 1024),
                                                                      "image/png")})
        assert big.status_code == 422 and "terlalu besar" in big.text
        huge = await http.post("/aduan", data=fields, files={"photo": ("huge.png", PNG + b"\x00" * (7 * 1024 * 1024),
                                                                       "image/png")})
        assert huge.status_code == 413


async def test_submissions_are_rate_limited_per_client(web):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        fields = await open_form(http)
        answers = [await http.post("/aduan", data={**fields, "submission_id": f"00000000-0000-4000-8000-00000000000{n}",
                                                   "text": f"Aduan nomor {n} tentang jalan rusak"})
                   for n in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert int(answers[3].headers["Retry-After"]) > 0


async def test_malformed_or_wrongly_typed_form_data_is_refused(web, infra, topics):
    async with httpx.AsyncClient(base_url=web.url, timeout=15) as http:
        fields = await open_form(http)
        broken = await http.post("/aduan",
                                 content=b"--xyz\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhalo",
                                 headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        assert broken.status_code in (400, 403)  # unreadable, or no readable CSRF token in it
        as_json = await http.post("/aduan", json={**fields, "text": "Saluran air mampet di depan pasar"})
        assert as_json.status_code == 415
        nul = await http.post("/aduan", data={**fields, "text": "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c"})
        assert nul.status_code == 422 and "Isi aduan kosong" in nul.text
    assert await read_all(infra.kafka_bootstrap, topics.received) == []  # the intake answers after Kafka has it
