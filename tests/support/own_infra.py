"""A Kafka broker and a PostgreSQL cluster of a test suite's own, beside (never on) the shared ones that
`make run`, `make test` and other workers use: started with deploy/local/kafka.sh and postgres.sh under
a state dir of the suite's, on free ports, so the suite may stop and restart them at will (the fault
suite, the SMS gateway outage tests)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import REPO, free_port

SCRIPTS = REPO / "deploy" / "local"
# The jars `make infra` fetched once: the second broker runs from them, no second download.
SHARED_KAFKA_LIBS = Path(os.environ.get("ADUAN_KAFKA_LIBS", REPO / ".local" / "kafka" / "libs"))
SHARED_PORTS = {9092, 9093, 15432}


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(taken: set[int]) -> int:
    while True:
        port = free_port()
        if port not in taken and port not in SHARED_PORTS:
            taken.add(port)
            return port


@dataclass
class OwnInfra:
    """A Kafka broker and a PostgreSQL cluster of the suite's own, driven through the local scripts."""

    state_dir: Path
    kafka_port: int = 0
    controller_port: int = 0
    pg_port: int = 0
    script_log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        taken: set[int] = set()
        self.kafka_port = self.kafka_port or pick_port(taken)
        self.controller_port = self.controller_port or pick_port(taken)
        self.pg_port = self.pg_port or pick_port(taken)
        assert not {self.kafka_port, self.controller_port, self.pg_port} & SHARED_PORTS

    @property
    def env(self) -> dict[str, str]:
        return {"ADUAN_STATE_DIR": str(self.state_dir), "ADUAN_KAFKA_PORT": str(self.kafka_port),
                "ADUAN_KAFKA_CONTROLLER_PORT": str(self.controller_port), "ADUAN_PG_PORT": str(self.pg_port),
                "ADUAN_KAFKA_LIBS": str(SHARED_KAFKA_LIBS)}

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql://aduan:aduan@127.0.0.1:{self.pg_port}/aduan"

    async def script(self, name: str, *args: str) -> float:
        """Run deploy/local/<name>.sh with the suite's state dir and ports; seconds it took."""
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            str(SCRIPTS / f"{name}.sh"), *args, env={**os.environ, **self.env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await process.communicate()
        text = output.decode(errors="replace").strip()
        self.script_log.append(f"$ {name}.sh {' '.join(args)}\n{text}")
        if process.returncode != 0:
            raise RuntimeError(f"{name}.sh {' '.join(args)} failed ({process.returncode}):\n{text}")
        return time.monotonic() - started

    async def start(self) -> None:
        """From clean data every run: a fault run must not inherit the previous run's topics and rows
        (the previous run's data stays on disk until then, for a post-mortem)."""
        await self.script("kafka", "reset")
        await self.script("postgres", "reset")
        await asyncio.gather(self.script("kafka", "start"), self.script("postgres", "start"))

    async def stop(self) -> None:
        await asyncio.gather(self.script("kafka", "stop"), self.script("postgres", "stop"),
                             return_exceptions=True)
