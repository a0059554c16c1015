"""Security review, issue 14, items 4, 5 and 11: what logs keep, text that stalls, what the internet reaches.

4. Masking missed URL-encoded numbers, NIK numbers and numbers abroad; uvicorn's access log kept the SMS
   and its sender from Kannel's get-url, httpx's the sendsms URL with Kannel's password.
5. The masker's e-mail pattern was quadratic: a 15,000-character path stalled the web intake for a second;
   the router's money pattern too, on a 5,000-character "rp rp rp ...". The hostile inputs below are 20 to
   40 times those: quadratic, they take minutes, so each test is bounded by pytest-timeout (a guard against
   a hang, not a speed measurement).
11. The Ingress sent every path to the web intake: /metrics, /readyz and /docs were public.
"""

from __future__ import annotations

import pytest

from services.router.routing.normalise import normalise
from shared.logging import mask_text
from tests.deploy.test_manifests import of_kind, render

# Each must be gone (or masked) from any text that is logged.
SECRETS_IN_TEXT = [
    ("%2B6281211112222 lapor", "6281211112222"),  # URL-encoded, as an access log line has it
    ("nomor saya 0812 1111 2222 ya", "1111 2222"),
    ("NIK 3571012345670001 atas nama", "3571012345670001"),
    ("call +44 7700 900123", "7700 900123"),
    ('"GET /kannel/inbound?key=k3y&sender=%2B6281211112222&text=SURGA+RAHASIA+pungli HTTP/1.1" 202', "pungli"),
    ("HTTP Request: GET http://kannel:13013/cgi-bin/sendsms?username=aduan&password=s3cret", "s3cret"),
    ("GET /unit/tautan?t=eyJ1bml0IjoiYnBwa2FkIn0.sig HTTP/1.1", "eyJ1bml0"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS_IN_TEXT)
def test_logged_text_keeps_no_number_query_or_credential(text, secret):
    assert secret not in mask_text(text)


@pytest.mark.parametrize("kept", ["2026-11-30 15:09:24", "LAPOR-STANDIN-0000001", "Rp 1.500.000",
                                  "wamid.HBgLMTY1MDM4Nzk0"])
def test_times_amounts_and_ids_stay_readable(kept):
    assert mask_text(kept) == kept


@pytest.mark.timeout(20)
@pytest.mark.parametrize("hostile", ["a" * 300_000, "a." * 150_000, "a@" * 150_000, "1 " * 150_000,
                                     "+1 " * 100_000, "%2" * 150_000, "/?" * 150_000, "ID." * 100_000])
def test_the_masker_is_linear_on_hostile_text(hostile):
    assert len(mask_text(hostile)) > 0


@pytest.mark.timeout(20)
@pytest.mark.parametrize("hostile", ["rp " * 30_000, "rp" * 50_000, "rp. " * 25_000, "1." * 50_000 + "x",
                                     "5 " * 50_000])
def test_routing_text_is_linear_on_hostile_text(hostile):
    words = normalise(hostile).split()  # returning at all is the point; the result is still words
    assert all(word.isalnum() for word in words)


def test_the_internet_reaches_only_the_public_paths():
    [ingress] = of_kind(render("dev"), "Ingress")
    routes = {(p["path"], p["pathType"]): p["backend"]["service"]["name"]
              for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert routes == {("/", "Exact"): "intake-web", ("/aduan", "Exact"): "intake-web",
                      ("/status", "Prefix"): "intake-web", ("/api/v1/complaints", "Prefix"): "intake-web",
                      ("/kannel", "Prefix"): "intake-sms", ("/api/v1/sms", "Prefix"): "intake-sms",
                      ("/webhook", "Prefix"): "intake-whatsapp", ("/unit", "Prefix"): "router",
                      ("/ppid", "Prefix"): "router"}
    for internal in ("/metrics", "/readyz", "/healthz", "/docs", "/openapi.json", "/redoc", "/api/v1/reports"):
        assert not any(internal == path or (kind == "Prefix" and path != "/" and internal.startswith(path))
                       for path, kind in routes), internal
