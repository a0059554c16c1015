"""deploy/k8s applied to a real Kubernetes API server: kube-apiserver v1.37.2 (built from the Go module proxy by
`make k8s-check`) on Debian's etcd, with the operators' CRDs from deploy/k8s/crds installed. Each environment
is a cluster of its own, as in the city's data centre: the Strimzi Kafka (deploy/k8s/kafka or kafka-dev) and
the overlay, applied as docs/operations.md says, with server-side dry-run, for real, again unchanged, and again
as the next release; every pod template admitted as a Pod under PodSecurity "restricted". The API server
validates, defaults, admits and stores; nothing runs (there is no scheduler or kubelet)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_manifests import KUSTOMIZE, REPO

SCRIPT = REPO / "deploy" / "local" / "kube-apiserver.sh"
KUBECTL = REPO / ".local" / "bin" / "kubectl"
K8S = REPO / "deploy" / "k8s"
# environment -> (its Kafka kustomization, its overlay, the tag of the release after the shipped one)
ENVIRONMENTS = {"production": ("kafka", "production", "0.2.0"), "dev": ("kafka-dev", "dev", "pr-42")}
# Where Strimzi runs the Kafka cluster; the operator's installation makes this namespace, not our manifests.
KAFKA_NAMESPACE = "kafka"


@dataclass
class Cluster:
    kubeconfig: Path

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KUBECTL), "--kubeconfig", str(self.kubeconfig), *args], input=stdin,
                              capture_output=True, text=True, timeout=120)

    def apply(self, docs: list[dict], *flags: str) -> str:
        """kubectl apply --server-side: fails the test on an error or on any warning the API server gives."""
        result = self.kubectl("apply", "--server-side", *flags, "-f", "-", stdin=yaml.safe_dump_all(docs))
        assert result.returncode == 0, f"kubectl apply {' '.join(flags)} refused:\n{result.stderr}"
        warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
        assert warnings == [], f"kubectl apply {' '.join(flags)} warned:\n" + "\n".join(warnings)
        return result.stdout


def kustomize(path: Path) -> list[dict]:
    out = subprocess.run([KUSTOMIZE, "build", "--load-restrictor", "LoadRestrictionsNone", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def next_release(overlay: str, tag: str, into: Path) -> Path:
    """A copy of the overlay whose only change is the image tag, as a release edits it."""
    source = K8S / "overlays" / overlay
    shutil.copytree(source, into)
    kustomization = into / "kustomization.yaml"
    # kustomize takes no absolute paths: the copy reaches the base by a relative one.
    text = kustomization.read_text().replace("../../base", os.path.relpath(K8S / "base", into))
    shipped = yaml.safe_load(text)["images"][0]["newTag"]
    kustomization.write_text(text.replace(f"newTag: {shipped}", f"newTag: {tag}"))
    return into


def pods_of(docs: list[dict]) -> list[dict]:
    """Every pod template as the Pod its controller would create."""
    pods = []
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            template = doc["spec"]["template"]
            pods.append({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"{doc['metadata']['name']}-check",
                                      "namespace": doc["metadata"]["namespace"],
                                      "labels": template["metadata"].get("labels", {})},
                         "spec": template["spec"]})
    return pods


@pytest.fixture(scope="module", params=sorted(ENVIRONMENTS))
def environment(request, tmp_path_factory) -> tuple[str, Cluster]:
    if not KUBECTL.exists():
        pytest.fail("kube-apiserver is not built: `make k8s-check` builds it (deploy/local/kube-apiserver.sh install)")
    state = tmp_path_factory.mktemp(f"apiserver-{request.param}")
    env = {**os.environ, "ADUAN_STATE_DIR": str(state)}
    started = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=180)
    request.addfinalizer(lambda: subprocess.run([str(SCRIPT), "stop"], env=env, timeout=60))
    assert started.returncode == 0, f"kube-apiserver did not start:\n{started.stderr}"
    cluster = Cluster(state / "kube-apiserver" / "kubeconfig")
    # What installing the operators brings: their CRDs (ours are their releases' files, unchanged).
    cluster.apply([yaml.safe_load(p.read_text()) for p in sorted((K8S / "crds").glob("*.yaml"))])
    for crd in sorted((K8S / "crds").glob("*.yaml")):
        name = yaml.safe_load(crd.read_text())["metadata"]["name"]
        waited = cluster.kubectl("wait", "--for", "condition=Established", "--timeout", "60s", f"crd/{name}")
        assert waited.returncode == 0, waited.stderr
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KAFKA_NAMESPACE}}])
    return request.param, cluster


def test_kafka_and_the_overlay_apply_without_errors_or_warnings_then_again_as_the_next_release(environment,
                                                                                              tmp_path):
    name, cluster = environment
    kafka, overlay, next_tag = ENVIRONMENTS[name]
    cluster.apply(kustomize(K8S / kafka), "--dry-run=server")
    cluster.apply(kustomize(K8S / kafka))

    docs = kustomize(K8S / "overlays" / overlay)
    # A server-side dry run needs the namespace to exist already (the NamespaceLifecycle admission).
    namespaces = [d for d in docs if d["kind"] == "Namespace"]
    cluster.apply(namespaces)
    dry_run = cluster.apply(docs, "--dry-run=server")
    assert dry_run.count("(server dry run)") == len(docs), dry_run
    applied = cluster.apply(docs)
    assert applied.count("serverside-applied") == len(docs), applied
    cluster.apply(docs)  # again unchanged: a re-run of the same release is a no-op, not an error

    following = kustomize(next_release(overlay, next_tag, tmp_path / overlay))
    cluster.apply(following)  # a Job's pod template is immutable: the next release's migration is a new Job
    jobs = json.loads(cluster.kubectl("get", "jobs", "--all-namespaces", "-o", "json").stdout)["items"]
    images = {j["metadata"]["name"]: j["spec"]["template"]["spec"]["containers"][0]["image"] for j in jobs}
    assert len(images) == 2 and any(image.endswith(f":{next_tag}") for image in images.values()), images
    stored = json.loads(cluster.kubectl("get", "deployments", "--all-namespaces", "-o", "json").stdout)["items"]
    assert {d["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1] for d in stored} == {next_tag}


def test_rotating_a_secret_and_restarting_a_deployment_as_docs_operations_md_says(environment):
    name, cluster = environment
    namespace = next(d for d in kustomize(K8S / "overlays" / ENVIRONMENTS[name][1]) if d["kind"] == "Namespace")
    ns = namespace["metadata"]["name"]
    cluster.apply(kustomize(K8S / "overlays" / ENVIRONMENTS[name][1]))
    for _ in range(2):  # made, then replaced: the command works on a first rotation and on every later one
        made = cluster.kubectl("-n", ns, "create", "secret", "generic", "aduan-lapor", "--from-literal=token=t",
                               "--from-literal=base-url=https://lapor.example", "--dry-run=client", "-o", "yaml")
        assert made.returncode == 0, made.stderr
        applied = cluster.kubectl("apply", "-f", "-", stdin=made.stdout)
        assert applied.returncode == 0 and "Warning" not in applied.stderr, applied.stderr
    restarted = cluster.kubectl("-n", ns, "rollout", "restart", "deployment/lapor-sync")
    assert restarted.returncode == 0 and "restarted" in restarted.stdout, restarted.stderr
    stored = json.loads(cluster.kubectl("-n", ns, "get", "deployment/lapor-sync", "-o", "json").stdout)
    assert "kubectl.kubernetes.io/restartedAt" in stored["spec"]["template"]["metadata"]["annotations"]


def test_every_pod_template_is_admitted_under_pod_security_restricted(environment):
    name, cluster = environment
    docs = kustomize(K8S / "overlays" / ENVIRONMENTS[name][1])
    [namespace] = [d for d in docs if d["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    cluster.apply([namespace])
    # The controller manager makes each namespace's "default" ServiceAccount; here nothing does.
    cluster.apply([{"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": namespace["metadata"]["name"]}}])
    pods = pods_of(docs)
    assert len(pods) == 7, [p["metadata"]["name"] for p in pods]  # six services and the migration
    cluster.apply(pods, "--dry-run=server")

    # The same check refuses a pod that may run as root: it is the API server judging, not us.
    rooted = copy.deepcopy(pods[0])
    del rooted["spec"]["securityContext"]["runAsNonRoot"]
    for container in rooted["spec"]["containers"]:
        container.get("securityContext", {}).pop("runAsNonRoot", None)
    refused = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(rooted))
    assert refused.returncode != 0 and 'violates PodSecurity "restricted' in refused.stderr, refused.stderr


def test_the_api_server_refuses_what_the_operators_do_not_serve(environment):
    _, cluster = environment
    [topic, *_] = [d for d in kustomize(K8S / "overlays" / "production") if d["kind"] == "KafkaTopic"]
    old = {**topic, "apiVersion": "kafka.strimzi.io/v1beta2", "metadata": {**topic["metadata"], "namespace": "kafka"}}
    refused = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(old))
    assert refused.returncode != 0 and 'no matches for kind "KafkaTopic"' in refused.stderr, refused.stderr
    unknown = copy.deepcopy(topic)
    unknown["metadata"]["namespace"] = "kafka"
    unknown["spec"]["replicationFactor"] = 3  # Strimzi's field is "replicas"
    refused = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(unknown))
    assert refused.returncode != 0 and "replicationFactor" in refused.stderr, refused.stderr
