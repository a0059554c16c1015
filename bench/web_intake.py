"""Accept rate and latency of the web JSON endpoint on one core, beside a bare Kafka-producing endpoint.

    python -m bench.web_intake [--seconds 15] [--concurrency 32]

Needs Kafka and PostgreSQL (`make infra`). Each server runs pinned to core 0 (taskset); the
load generator runs on core 1. Each server gets the same closed-loop load: `concurrency`
clients, each sending its next complaint as soon as the previous one was answered.
Last line: `web_rps=... bare_rps=... ratio=... web_p99_ms=... bare_p99_ms=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics

REPO = Path(__file__).resolve().parents[1]
BODY = {"text": "Lampu penerangan jalan di Jl. Dhoho mati sejak seminggu, mohon diperbaiki",
        "anonymity": "anonim", "phone": "081234567890"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(module: str, env: dict[str, str], port: int) -> subprocess.Popen:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    process = subprocess.Popen([*pin, sys.executable, "-m", module], cwd=REPO, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{module} did not start")


async def load(url: str, seconds: float, concurrency: int) -> tuple[int, int, list[float]]:
    latencies: list[float] = []
    accepted = failed = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal accepted, failed
            while time.monotonic() < deadline:
                started = time.perf_counter()
                answer = await client.post(url, json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())})
                latencies.append(time.perf_counter() - started)
                if answer.status_code == 202:
                    accepted += 1
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, failed, latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def measure(name: str, url: str, seconds: float, concurrency: int) -> dict:
    await load(url, 2, concurrency)  # warm-up: connections, JIT-less caches, consumer groups
    accepted, failed, latencies = await load(url, seconds, concurrency)
    figures = {"name": name, "rps": accepted / seconds, "failed": failed, "p50": percentile(latencies, 50),
               "p95": percentile(latencies, 95), "p99": percentile(latencies, 99), "max": max(latencies) * 1000}
    print(f"{name:5} {figures['rps']:8.0f} accepted/s  p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f} ms"
          f"  p99 {figures['p99']:6.1f} ms  max {figures['max']:6.1f} ms  failed {failed}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})  # the load generator stays off the servers' core
    kafka = KafkaSettings()
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:6]}.")
    asyncio.run(create_topics(kafka, topics))
    env = {"ADUAN_KAFKA_TOPIC_PREFIX": topics.prefix, "ADUAN_WEB_SUBMISSIONS_BURST": "100000000",
           "ADUAN_WEB_SUBMISSIONS_PER_MINUTE": "100000000", "ADUAN_WEB_LOG_LEVEL": "WARNING",
           "ADUAN_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "BENCH_TOPIC": topics.received}
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
          f"{args.concurrency} concurrent clients, {args.seconds:.0f} s per server, servers pinned to core 0")
    results = {}
    for name, module, port_env in (("bare", "bench.bare_intake", "BENCH_PORT"),
                                   ("web", "services.intake.web", "ADUAN_WEB_PORT")):
        port = free_port()
        process = start(module, {**env, port_env: str(port)}, port)
        try:
            results[name] = asyncio.run(measure(name, f"http://127.0.0.1:{port}/api/v1/complaints",
                                                args.seconds, args.concurrency))
        finally:
            process.terminate()
            process.wait(30)
    web, bare = results["web"], results["bare"]
    print(json.dumps({"web": web, "bare": bare}))
    print(f"web_rps={web['rps']:.0f} bare_rps={bare['rps']:.0f} ratio={web['rps'] / bare['rps']:.2f} "
          f"web_p99_ms={web['p99']:.1f} bare_p99_ms={bare['p99']:.1f}")


if __name__ == "__main__":
    main()
