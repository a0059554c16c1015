"""Where the tests find Kafka, PostgreSQL and the evidence store (S3).

1. The local processes that `make test` starts (deploy/local/*.sh): the path CI takes.
2. Otherwise, on a machine with a Docker engine, testcontainers starts the three (MinIO for S3; this path
   is not run on the project's CI machine, which has no Docker engine).
3. Otherwise the tests fail with a message that says how to start them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_KAFKA = "127.0.0.1:9092"
# The local broker's super user (deploy/local/kafka.sh): the tests' own clients log in as it; the services the
# tests start log in as themselves (tests/support/processes.py).
LOCAL_KAFKA_ADMIN = {"ADUAN_KAFKA_USERNAME": "admin", "ADUAN_KAFKA_PASSWORD": "local-kafka-admin"}
DEFAULT_DB = "postgresql://aduan:aduan@127.0.0.1:15432/aduan"


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    database_url: str  # a database where the tests may CREATE DATABASE
    source: str  # "local" or "testcontainers"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, check=False).returncode == 0


def _testcontainers(stack: ExitStack) -> Infra:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft())
    for name in LOCAL_KAFKA_ADMIN:  # this broker takes no logins (and so enforces no ACLs)
        os.environ.pop(name, None)
    postgres = stack.enter_context(
        PostgresContainer("postgres:15", username="aduan", password="aduan", dbname="aduan", driver=None))
    _s3_container(stack)
    return Infra(kafka.get_bootstrap_server(), postgres.get_connection_url(), "testcontainers")


def _s3_container(stack: ExitStack) -> None:
    """MinIO with the local store's credentials and bucket; the tests and the services they start find it
    through ADUAN_S3_ENDPOINT_URL (shared/evidence.py)."""
    import botocore.session
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy

    from shared.evidence import EvidenceSettings

    local = EvidenceSettings()
    minio = stack.enter_context(
        DockerContainer("minio/minio:RELEASE.2022-12-02T19-19-22Z", _wait_strategy=HttpWaitStrategy(
            9000, "/minio/health/live")).with_exposed_ports(9000).with_command("server /data")
        .with_env("MINIO_ROOT_USER", local.access_key.get_secret_value())
        .with_env("MINIO_ROOT_PASSWORD", local.secret_key.get_secret_value()))
    endpoint = f"http://{minio.get_container_host_ip()}:{minio.get_exposed_port(9000)}"
    os.environ["ADUAN_S3_ENDPOINT_URL"] = endpoint
    botocore.session.get_session().create_client(
        "s3", endpoint_url=endpoint, region_name=local.region, aws_access_key_id=local.access_key.get_secret_value(),
        aws_secret_access_key=local.secret_key.get_secret_value()).create_bucket(Bucket=local.bucket)


def find_infra(stack: ExitStack) -> Infra:
    kafka = os.environ.get("ADUAN_KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    database = os.environ.get("ADUAN_DB_URL", DEFAULT_DB)
    kafka_host, kafka_port = kafka.split(",")[0].rsplit(":", 1)
    db = urlsplit(database)
    if _reachable(kafka_host, int(kafka_port)) and _reachable(db.hostname or "127.0.0.1", db.port or 5432):
        return Infra(kafka, database, "local")
    if _docker_available():
        return _testcontainers(stack)
    raise RuntimeError(
        f"Kafka ({kafka}) or PostgreSQL ({db.hostname}:{db.port}) is not reachable and there is no "
        "Docker engine for testcontainers. Run the suite with `make test`, which starts both.")
