"""Run the services as real, separate processes, exactly as `make run` does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
# Tests (and the bench) send many SMS to the same few numbers on one database: the notifier's SMS limits
# (services/notifier/sms_limits.py) are lifted here and tested on their own in tests/security/test_sms_costs.py,
# which sets them again through `extra_env`.
# Every intake of a test stack makes tracking codes with the same key, as production's do.
TEST_ENV = {"ADUAN_TRACKING_CODE_KEY": "test-tracking-code-key"}
SMS_LIMITS_LIFTED = {"ADUAN_NOTIFIER_SMS_PER_RECIPIENT_PER_HOUR": "1000000",
                     "ADUAN_NOTIFIER_SMS_PER_RECIPIENT_PER_DAY": "1000000",
                     "ADUAN_NOTIFIER_SMS_OVERALL_PER_MINUTE": "1000000"}


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

    def start(self, name: str, module: str, port_env: str | None, extra_env: dict[str, str] | None = None,
              ready_path: str | None = "/readyz", timeout: float = 90.0, port: int | None = None) -> Service:
        """`port`: a given one (a restart on the same address); else a free one."""
        port = port or free_port()
        env = {**os.environ, **TEST_ENV, **SMS_LIMITS_LIFTED, **self.env, **(extra_env or {})}
        if port_env:
            env[port_env] = str(port)
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
