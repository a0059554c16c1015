"""Security review, issue 14, item 9: the web intake's per-client limit.

The left-most X-Forwarded-For entry was taken as the client, and it is whatever the client writes: a fresh
one per request escaped the limit. And a flood from many addresses grew the limiter's table without bound.
"""

from __future__ import annotations

from services.intake.web.intake import client_address
from services.intake.web.rate_limit import MAX_CLIENTS, RateLimiter


def test_the_client_is_the_address_the_trusted_proxy_saw_not_what_the_client_wrote():
    # nginx appends the address it saw: "<whatever the client sent>, <the client as nginx saw it>".
    forged = "6.6.6.6, 203.0.113.7"
    assert client_address("10.0.0.9", forged, trusted_hops=1) == "203.0.113.7"
    assert client_address("10.0.0.9", "203.0.113.7, 10.0.0.5", trusted_hops=2) == "203.0.113.7"
    assert client_address("10.0.0.9", forged, trusted_hops=0) == "10.0.0.9"  # no proxy: the header means nothing
    assert client_address("10.0.0.9", None, trusted_hops=1) == "10.0.0.9"  # no header: the peer
    assert client_address("10.0.0.9", "203.0.113.7", trusted_hops=2) == "10.0.0.9"  # fewer hops than trusted


def test_a_forged_header_per_request_does_not_escape_the_limit():
    limiter = RateLimiter(per_minute=2, burst=3)
    answers = [limiter.allow(client_address("10.0.0.9", f"1.2.3.{n}, 203.0.113.7", trusted_hops=1), now=0.0)
               for n in range(10)]
    assert answers[:3] == [0.0] * 3 and all(wait > 0 for wait in answers[3:])


def test_the_limiter_table_stays_bounded_under_a_flood_of_addresses():
    limiter = RateLimiter(per_minute=1, burst=2)  # a bucket takes two minutes to fill again
    for n in range(MAX_CLIENTS * 2 + 10):
        limiter.allow(f"client-{n}", now=n / 1_000_000)  # all within a second: none is full again
    assert len(limiter.buckets) <= MAX_CLIENTS
    assert f"client-{MAX_CLIENTS * 2 + 9}" in limiter.buckets  # the newest are kept
