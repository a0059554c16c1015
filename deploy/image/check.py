"""`make image-check`: the built image run as the Kubernetes manifests run it, against the local Kafka and PostgreSQL.

Reads the rendered dev overlay (kustomize), so what runs here is what the cluster would run: each Deployment's
command, its env and ConfigMap, its user, read-only root, dropped capabilities, no-new-privileges, memory and CPU
limits, its emptyDir and ConfigMap mounts. What the cluster has and this machine has not is supplied locally:
the Secrets (local values below), the addresses (Kafka, PostgreSQL and the other services on 127.0.0.1), the
ports (the local defaults + 10000, so a test suite or `make run` on the default ports is never in the way).

The migrate Job runs first, then every service; each must answer 200 on /readyz in time. The containers run on
topics of their own (prefix `imagecheck.`) and a database of their own (aduan_imagecheck), both removed at the
end, so they never take the events or rows of a `make run` or a test on the same broker and server.

Run by deploy/image/check.sh (podman's settings; removes the containers whatever happens).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from shared import kafka_access
from shared.kafka import client_options
from shared.settings import KafkaSettings
from shared.topics import Topics, create_topics
from tests.support.processes import KAFKA_PASSWORDS, ROLE_PASSWORDS

REPO = Path(__file__).resolve().parents[2]
OVERLAY = REPO / "deploy/k8s/overlays/dev"
KUSTOMIZE = REPO / ".local/bin/kustomize"
LABEL = "aduan.image-check=1"  # check.sh removes every container with it
NAME_PREFIX = "aduan-imagecheck-"
TOPIC_PREFIX = "imagecheck."
DATABASE = "aduan_imagecheck"
TIMEOUT = float(os.environ.get("ADUAN_IMAGE_CHECK_TIMEOUT", "120"))  # seconds, per container

KAFKA = f"127.0.0.1:{os.environ.get('ADUAN_KAFKA_PORT', '9092')}"
PG = f"127.0.0.1:{os.environ.get('ADUAN_PG_PORT', '15432')}"
KAFKA_ADMIN_PASSWORD = os.environ.get("ADUAN_KAFKA_ADMIN_PASSWORD", "local-kafka-admin")

# Where each Deployment listens here: the local default port + 10000 (docs/operations.md, deploy/local/run.sh).
PORTS = {"intake-web": 18080, "intake-sms": 18081, "intake-whatsapp": 18082,
         "router": 18090, "notifier": 18091, "lapor-sync": 18092}


def db_url(user: str, password: str) -> str:
    return f"postgresql://{user}:{password}@{PG}/{DATABASE}"


# The Secrets the manifests reference, by (Secret, key), with the local stack's values (deploy/local/run.sh).
# Kafka users and database roles are shared by everything on the broker and the server: they get the test
# suite's passwords (tests/support/processes.py), which a test run sets as well, so neither run locks the
# other's services out.
SECRETS: dict[tuple[str, str], str] = {
    **{(user, "password"): password for user, password in KAFKA_PASSWORDS.items()},
    ("aduan-db", "url"): db_url("aduan", "aduan"),
    ("aduan-db", "role-passwords"): json.dumps(ROLE_PASSWORDS),
    **{("aduan-db", f"{schema.replace('_', '-')}-url"): db_url(f"aduan_{schema}", password)
       for schema, password in ROLE_PASSWORDS.items()},
    ("aduan-tracking", "key"): "local-tracking-code-key",
    ("aduan-contact", "public-key"): "Vh6xtprjCirbeeB0FElYNAy/S27R7M1TCIIToFBZvCo=",
    ("aduan-contact", "private-keys"): "10rNvsuaDR4uGXW9a1Ts+S9HRAvf388BWNyihjktbpM=",
    ("aduan-web", "csrf-secret"): "local-csrf-secret",
    ("aduan-sms", "gateway-secret"): "local-sms-gateway-secret",
    ("aduan-sms", "kannel-secret"): "local-kannel-inbound-secret",
    ("aduan-whatsapp", "verify-token"): "local-verify-token",
    ("aduan-whatsapp", "app-secret"): "local-app-secret",
    ("aduan-whatsapp", "access-token"): "local-whatsapp-token",
    ("aduan-router", "operator-tokens"): json.dumps({"operator": "local-operator-token"}),
    ("aduan-router", "unit-tokens"): json.dumps({unit: f"local-{unit}" for unit in
                                                 ("inspektorat", "hukum", "bppkad", "prokopim", "diskominfo")}),
    ("aduan-inbox", "secret"): "local-inbox-secret-not-for-production",
    ("aduan-delivery-record", "token"): "local-delivery-record-token-not-for-production",
    ("aduan-lapor", "token"): "local-standin-token",
    ("aduan-lapor", "base-url"): "http://127.0.0.1:8099",  # the LAPOR! stand-in (not needed for readiness)
    ("aduan-smtp", "username"): "",  # the local SMTP stand-in takes no login
    ("aduan-smtp", "password"): "",
    ("aduan-sms-gateway", "kannel-password"): "local-kannel-password",
    ("aduan-sms-gateway", "generic-secret"): "local-sms-gateway-secret",
    # The local evidence store (deploy/local/s3.sh; not needed for readiness).
    ("aduan-evidence", "endpoint-url"): "http://127.0.0.1:17833",
    ("aduan-evidence", "bucket"): "aduan-evidence",
    ("aduan-evidence", "access-key"): "local-evidence",
    ("aduan-evidence", "secret-key"): "local-evidence-secret",
    # Optional ones left out: Gammu's database (make gateways' only), units' webhook secrets.
}

# The cluster's addresses, as this machine has them. /readyz checks Kafka and PostgreSQL only, so the SMTP,
# Kannel, WhatsApp and LAPOR! counterparts are named (the local stand-ins' ports) but need not run.
ADDRESSES = {
    "ADUAN_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
    "ADUAN_SMS_STATUS_API_URL": f"http://127.0.0.1:{PORTS['intake-web']}",
    "ADUAN_WHATSAPP_STATUS_API_URL": f"http://127.0.0.1:{PORTS['intake-web']}",
    "ADUAN_NOTIFIER_SMTP_HOST": "127.0.0.1",
    "ADUAN_NOTIFIER_SMTP_PORT": "8025",
    "ADUAN_NOTIFIER_SMTP_STARTTLS": "false",
    "ADUAN_NOTIFIER_KANNEL_SENDSMS_URL": "http://127.0.0.1:13013/cgi-bin/sendsms",
    "ADUAN_NOTIFIER_WHATSAPP_API_URL": "http://127.0.0.1:8098/v21.0",
    "ADUAN_ROUTER_NOTIFIER_URL": f"http://127.0.0.1:{PORTS['notifier']}",
    "ADUAN_ROUTER_LAPOR_SYNC_URL": f"http://127.0.0.1:{PORTS['lapor-sync']}",
}
# A value still naming a cluster address after the above: a manifest changed, and this table must follow.
CLUSTER_ADDRESS = re.compile(r"\.svc\b|//[a-z-]+(:\d+)?(/|$)")


class CheckFailed(Exception):
    pass


def log(message: str) -> None:
    print(f"image-check: {message}", file=sys.stderr, flush=True)


def render() -> list[dict[str, Any]]:
    out = subprocess.run([str(KUSTOMIZE), "build", "--load-restrictor", "LoadRestrictionsNone", str(OVERLAY)],
                         check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def memory(limit: str) -> str:  # Kubernetes quantity to podman's (Mi -> m, Gi -> g)
    match = re.fullmatch(r"(\d+)(Mi|Gi|M|G)?", limit)
    if not match:
        raise CheckFailed(f"memory limit {limit!r} not understood")
    return match[1] + {"Mi": "m", "Gi": "g", "M": "m", "G": "g", None: "b"}[match[2]]


def cpus(limit: str) -> str:
    return str(int(limit[:-1]) / 1000) if limit.endswith("m") else limit


class Workload:
    """A Deployment's or the Job's pod, as `podman run` arguments."""

    def __init__(self, doc: dict[str, Any], config_maps: dict[str, dict[str, str]], files_dir: Path) -> None:
        self.name = doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        self.image, self.command = container["image"], container["command"]
        self.port = PORTS.get(self.name)
        self.grace = int(pod.get("terminationGracePeriodSeconds", 30))
        self.args = self._security(pod.get("securityContext", {}), container.get("securityContext", {}))
        limits = container.get("resources", {}).get("limits", {})
        if "memory" in limits:
            self.args += ["--memory", memory(limits["memory"])]
        if "cpu" in limits:
            self.args += ["--cpus", cpus(limits["cpu"])]
        self.args += self._mounts(pod, container, config_maps, files_dir)
        self.env = self._env(container, config_maps)

    def _security(self, pod: dict[str, Any], container: dict[str, Any]) -> list[str]:
        context = {**pod, **container}
        wanted = {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                  "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
        if changed := {key: context.get(key) for key, value in wanted.items() if context.get(key) != value}:
            raise CheckFailed(f"{self.name}: securityContext differs from what this check mirrors: {changed}")
        return ["--user", f"{context['runAsUser']}:{context.get('runAsGroup', context['runAsUser'])}",
                "--read-only", "--read-only-tmpfs=false", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges"]

    def _mounts(self, pod: dict[str, Any], container: dict[str, Any], config_maps: dict[str, dict[str, str]],
                files_dir: Path) -> list[str]:
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        args: list[str] = []
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            if "emptyDir" in volume:  # writable scratch space, as big as the manifest allows
                size = volume["emptyDir"].get("sizeLimit")
                args += ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777" + (f",size={memory(size)}" if size else "")]
            elif "configMap" in volume:  # the ConfigMap's keys as files, read-only
                directory = files_dir / self.name / mount["name"]
                directory.mkdir(parents=True)
                for key, text in config_maps[volume["configMap"]["name"]].items():
                    (directory / key).write_text(text)
                args += ["-v", f"{directory}:{mount['mountPath']}:ro"]
            else:
                raise CheckFailed(f"{self.name}: volume {mount['name']} of a kind this check does not mirror")
        return args

    def _env(self, container: dict[str, Any], config_maps: dict[str, dict[str, str]]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            env |= config_maps[source["configMapRef"]["name"]]
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            ref = item["valueFrom"]["secretKeyRef"]
            key = (ref["name"], ref["key"])
            if key in SECRETS:
                env[item["name"]] = SECRETS[key]
            elif not ref.get("optional"):
                raise CheckFailed(f"{self.name}: no local value for Secret {key[0]} key {key[1]} ({item['name']})")
        env |= {name: value for name, value in ADDRESSES.items() if name in env}
        if any(name.startswith("ADUAN_KAFKA_") for name in env):
            env["ADUAN_KAFKA_TOPIC_PREFIX"] = TOPIC_PREFIX
        ports = [name for name, value in env.items() if re.fullmatch(r"ADUAN_[A-Z_]+_PORT", name) and value == "8080"]
        if self.port is not None:
            if len(ports) != 1:
                raise CheckFailed(f"{self.name}: expected one ADUAN_*_PORT of 8080 in its env, found {ports}")
            env[ports[0]] = str(self.port)
        if stray := {name: value for name, value in env.items() if CLUSTER_ADDRESS.search(value)}:
            raise CheckFailed(f"{self.name}: cluster addresses with no local counterpart here: {stray}")
        return env

    def run_args(self, detach: bool) -> list[str]:
        args = ["podman", "run", "--name", NAME_PREFIX + self.name, "--label", LABEL, "--network", "host",
                *self.args]
        for name, value in sorted(self.env.items()):
            args += ["-e", f"{name}={value}"]
        return [*args, "-d" if detach else "--rm", self.image, *self.command]


def podman(*args: str, check: bool = True) -> str:
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True).stdout.strip()


def logs(name: str) -> str:
    done = subprocess.run(["podman", "logs", "--tail", "60", NAME_PREFIX + name],
                          capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).strip()


def readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, repr(error)


async def prepare() -> None:
    """A fresh database (the migrate Job makes the roles' schemas in it), and topics of our own with ACLs."""
    admin = await asyncpg.connect(f"postgresql://aduan:aduan@{PG}/aduan")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    settings = KafkaSettings(bootstrap_servers=KAFKA, username="admin", password=SecretStr(KAFKA_ADMIN_PASSWORD))
    await create_topics(settings, Topics(TOPIC_PREFIX))
    await kafka_access.apply(settings, Topics(TOPIC_PREFIX), KAFKA_PASSWORDS)


async def tidy() -> None:
    """Our topics, their ACLs and our database go; consumer groups are shared and stay (as the tests leave them)."""
    settings = KafkaSettings(bootstrap_servers=KAFKA, username="admin", password=SecretStr(KAFKA_ADMIN_PASSWORD))
    client = AIOKafkaAdminClient(**client_options(settings))
    try:
        await client.start()
        topics = Topics(TOPIC_PREFIX)
        existing = set(await client.list_topics())
        await client.delete_topics([name for name in topics.all_topics() if name in existing])
        await kafka_access.revoke(client, topics)
    except KafkaError as error:
        log(f"could not delete the {TOPIC_PREFIX}* topics: {error!r}")
    finally:
        await client.close()
    admin = await asyncpg.connect(f"postgresql://aduan:aduan@{PG}/aduan")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await admin.close()


def check(files_dir: Path) -> None:
    docs = render()
    config_maps = {doc["metadata"]["name"]: doc.get("data", {}) for doc in docs if doc["kind"] == "ConfigMap"}
    (job,) = [Workload(doc, config_maps, files_dir) for doc in docs if doc["kind"] == "Job"]
    services = [Workload(doc, config_maps, files_dir) for doc in docs if doc["kind"] == "Deployment"]
    if missing := set(PORTS) - {service.name for service in services}:
        raise CheckFailed(f"Deployments missing from the overlay: {sorted(missing)}")
    if extra := {service.name for service in services} - set(PORTS):
        raise CheckFailed(f"Deployments this check gives no port: {sorted(extra)}")
    image = job.image
    if subprocess.run(["podman", "image", "exists", image], check=False).returncode != 0:
        raise CheckFailed(f"{image} (the image the dev overlay names) is not built: make image")
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image))
    log(f"image {image}: {size / 1e6:.0f} MB")

    asyncio.run(prepare())
    t0 = time.monotonic()
    migrate = subprocess.run(job.run_args(detach=False), capture_output=True, text=True, timeout=TIMEOUT,
                             check=False)
    if migrate.returncode != 0:
        raise CheckFailed(f"the migrate Job's command failed ({migrate.returncode}):\n{migrate.stdout}{migrate.stderr}")
    log(f"migrate ({' '.join(job.command)}): done in {time.monotonic() - t0:.1f} s")

    started: dict[str, float] = {}
    for service in services:
        if service.image != image:
            raise CheckFailed(f"{service.name} names {service.image}, the Job {image}")
        started[service.name] = time.monotonic()
        subprocess.run(service.run_args(detach=True), check=True, capture_output=True, text=True)
    ready: dict[str, float] = {}
    last: dict[str, tuple[int, str]] = {}
    while len(ready) < len(services):
        for service in services:
            if service.name in ready or service.port is None:
                continue
            last[service.name] = status = readyz(service.port)
            if status[0] == 200:
                ready[service.name] = time.monotonic() - started[service.name]
                log(f"{service.name}: /readyz 200 on 127.0.0.1:{service.port} after {ready[service.name]:.1f} s")
                continue
            running = podman("inspect", "--format", "{{.State.Running}}", NAME_PREFIX + service.name, check=False)
            waited = time.monotonic() - started[service.name]
            if running != "true" or waited > TIMEOUT:
                why = "exited" if running != "true" else f"not ready after {TIMEOUT:.0f} s"
                raise CheckFailed(f"{service.name} {why}; last /readyz: {status}\n--- its logs ---\n"
                                  f"{logs(service.name)}")
        time.sleep(0.25)
    log("every service ready: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in ready.items()))
    check_second_opinion_loaded()
    stop(services)


def check_second_opinion_loaded() -> None:
    """The router used the model the image was built with: trained on the same packaged data, so not again."""
    output = subprocess.run(["podman", "logs", NAME_PREFIX + "router"], capture_output=True, text=True, check=False)
    for line in (output.stdout + output.stderr).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "second_opinion_ready":
            if entry.get("trained_here") is not False:
                raise CheckFailed(f"the router trained its second opinion instead of loading the image's: {line}")
            log(f"router: second opinion {entry.get('version')} loaded from the image")
            return
    raise CheckFailed("the router never said its second opinion was ready")


def stop(services: list[Workload]) -> None:
    """As Kubernetes ends a pod: SIGTERM to the command (PID 1 here, as in the pod), SIGKILL after the grace
    period. A service that needs the SIGKILL ignores SIGTERM, and every rollout would wait out the period."""
    stopping = {service.name: (time.monotonic(), subprocess.Popen(
        ["podman", "stop", "-t", str(service.grace), NAME_PREFIX + service.name],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)) for service in services}
    took, killed = {}, []
    for name, (t0, process) in stopping.items():
        _, errors = process.communicate()
        took[name] = time.monotonic() - t0
        code = podman("inspect", "--format", "{{.State.ExitCode}}", NAME_PREFIX + name, check=False)
        if process.returncode != 0 or "SIGKILL" in errors or code == "137":
            killed.append(f"{name} (exit {code}) {errors.strip()}")
    log("stopped on SIGTERM: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in took.items()))
    if killed:
        raise CheckFailed("needed SIGKILL after the grace period: " + "; ".join(killed))


def main() -> int:
    # SIGTERM (make interrupted, CI cancelled) ends the check through `finally`, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    files_dir = Path(tempfile.mkdtemp(prefix="aduan-image-check-"))
    files_dir.chmod(0o755)  # the mounted ConfigMap files must be readable by uid 10001
    t0 = time.monotonic()
    try:
        check(files_dir)
        log(f"passed in {time.monotonic() - t0:.1f} s")
        return 0
    except CheckFailed as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        names = podman("ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}", check=False).split()
        if names:
            podman("rm", "-f", "-t", "10", *names, check=False)
        try:
            asyncio.run(tidy())
        except (OSError, asyncpg.PostgresError) as error:
            log(f"tidying up: {error!r}")
        shutil.rmtree(files_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
