"""Run the services as real, separate processes, exactly as `make run` does."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

REPO = Path(__file__).resolve().parents[2]
# Tests (and the bench) send many SMS to the same few numbers on one database: the notifier's SMS limits
# (services/notifier/sms_limits.py) are lifted here and tested on their own in tests/security/test_sms_costs.py,
# which sets them again through `extra_env`.
# Every intake of a test stack makes tracking codes with the same key, as production's do.
# Every service has its secrets, as in production (none has a default): the notifier's keys to its gateways
# (those the local gateways and stand-ins are set up with) and the key pair it opens citizens' sealed contacts
# with (shared/contact_seal.py).
TEST_ENV = {"ADUAN_TRACKING_CODE_KEY": "test-tracking-code-key",
            "ADUAN_CONTACT_PUBLIC_KEY": "LRSZD/c5aZxwCK0cAc30gUf1N32vkxq8dtHSG4D6B0Q=",
            "ADUAN_CONTACT_PRIVATE_KEYS": "BwLDpwZCL0A+e6C9oyS54V/5CQto0iBIhhE/aUKvXIQ=",
            "ADUAN_NOTIFIER_KANNEL_PASSWORD": "local-kannel-password",
            "ADUAN_NOTIFIER_GENERIC_SMS_SECRET": "local-sms-gateway-secret",
            "ADUAN_NOTIFIER_WHATSAPP_TOKEN": "local-whatsapp-token"}
SMS_LIMITS_LIFTED = {"ADUAN_NOTIFIER_SMS_PER_RECIPIENT_PER_HOUR": "1000000",
                     "ADUAN_NOTIFIER_SMS_PER_RECIPIENT_PER_DAY": "1000000",
                     "ADUAN_NOTIFIER_SMS_OVERALL_PER_MINUTE": "1000000"}


# Services connect as their own database role, as in production (services/migrate.py makes the roles in every
# database the test fixtures create); the test itself reads and writes as the owner.
ROLE_PASSWORDS = {schema: f"test-{schema.replace('_', '-')}" for schema in
                  ("router", "notifier", "lapor_sync", "web", "intake_sms")}
SCHEMA_OF = {"services.router": "router", "services.notifier": "notifier", "services.lapor_sync": "lapor_sync",
             "services.intake.web": "web", "services.intake.sms": "intake_sms"}


# Each service logs in to Kafka as its own user, allowed only its topics (the `topics` fixture grants them).
KAFKA_USER_OF = {"services.router": "router", "services.notifier": "notifier", "services.lapor_sync": "lapor-sync",
                 "services.intake.web": "intake-web", "services.intake.sms": "intake-sms",
                 "services.intake.whatsapp": "intake-whatsapp"}
KAFKA_PASSWORDS = {user: f"test-{user}" for user in [*KAFKA_USER_OF.values(), "operator"]}  # operator: replays


@functools.cache
def saved_second_opinion() -> str:
    """The router's second opinion trained once for the run and saved, as the image carries one: every router a
    test starts loads it (after checking it was trained on its own data) instead of training for seconds."""
    folder = tempfile.mkdtemp(prefix="aduan-second-opinion-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "second-opinion.npz"
    subprocess.run([sys.executable, "-m", "services.router.routing.second_opinion", str(path)], cwd=REPO,
                   check=True, capture_output=True)
    return str(path)


def as_role(url: str, schema: str) -> str:
    """The database URL for the schema's own role, `aduan_<schema>`."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return urlunsplit(parts._replace(netloc=f"aduan_{schema}:{ROLE_PASSWORDS[schema]}@{host}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    name: str
    module: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Processes:
    """Starts services with a common environment; stops them all at the end."""

    env: dict[str, str]
    log_dir: Path
    running: list[Service] = field(default_factory=list)
    database_roles: bool = False  # the databases have the per-service roles: each service connects as its own
    kafka_users: bool = False  # the broker has the per-service users and ACLs: each service logs in as its own

    def start(self, name: str, module: str, port_env: str | None, extra_env: dict[str, str] | None = None,
              ready_path: str | None = "/readyz", timeout: float = 90.0, port: int | None = None) -> Service:
        """`port`: a given one (a restart on the same address); else a free one."""
        port = port or free_port()
        saved = {"ADUAN_ROUTER_SECOND_OPINION_SAVED": saved_second_opinion()} if module == "services.router" else {}
        env = {**os.environ, **TEST_ENV, **SMS_LIMITS_LIFTED, **saved, **self.env, **(extra_env or {})}
        if port_env:
            env[port_env] = str(port)
        if self.database_roles and module in SCHEMA_OF and "ADUAN_DB_URL" in env:
            env["ADUAN_DB_URL"] = as_role(env["ADUAN_DB_URL"], SCHEMA_OF[module])
        if self.kafka_users and module in KAFKA_USER_OF:
            user = KAFKA_USER_OF[module]
            env |= {"ADUAN_KAFKA_USERNAME": user, "ADUAN_KAFKA_PASSWORD": KAFKA_PASSWORDS[user]}
        log_path = self.log_dir / f"{name}.log"
        process = subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env,
                                   stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        service = Service(name, module, port, process, log_path)
        self.running.append(service)
        if ready_path:
            self._wait_ready(service, ready_path, timeout)
        return service

    def _wait_ready(self, service: Service, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode}:\n{service.log()[-3000:]}")
            try:
                if httpx.get(service.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{service.name} not ready after {timeout}s:\n{service.log()[-3000:]}")

    def stop(self, service: Service, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if service.process.poll() is None:
            service.process.send_signal(sig)
            try:
                service.process.wait(timeout)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        return service.process.returncode

    def stop_all(self) -> None:
        for service in reversed(self.running):
            self.stop(service)
        self.running.clear()
