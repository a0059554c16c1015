"""The Kubernetes manifests, rendered by kustomize and checked offline: what every Deployment must
have, that the topics match shared/topics.py, and strict schema validation of the core kinds."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.kafka_access import service_access, strimzi_yaml
from shared.topics import Topics
from tests.support.crds import schema_for

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = ["dev", "production"]
KUSTOMIZE = shutil.which("kustomize") or str(REPO / ".local" / "bin" / "kustomize")
# FastStream's graceful timeout (15 s) + the deliveries' grace (10 s): the pod must outlive both.
SHUTDOWN_PATH_SECONDS = 25
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "DB_URL", "DATABASE_URL")


def render(overlay: str) -> list[dict]:
    if not Path(KUSTOMIZE).exists():
        pytest.fail("kustomize is missing: `make test` builds it (go install) into .local/bin")
    out = subprocess.run([KUSTOMIZE, "build", "--load-restrictor", "LoadRestrictionsNone",
                          str(REPO / "deploy" / "k8s" / "overlays" / overlay)],
                         capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def resources(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def test_every_deployment_has_probes_limits_and_a_locked_down_security_context(resources):
    _, docs = resources
    deployments = of_kind(docs, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {
        "intake-web", "intake-sms", "intake-whatsapp", "router", "notifier", "lapor-sync"}
    for deployment in deployments:
        name, pod = deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_PATH_SECONDS, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name  # never Kafka/PostgreSQL
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), name
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"], name
            module = container["command"][-1]
            assert importlib.util.find_spec(module) is not None, f"{name} runs {module}, which does not exist"


def test_secrets_are_referenced_never_written(resources):
    _, docs = resources
    assert of_kind(docs, "Secret") == []
    for deployment in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for var in container.get("env", []):
                if any(word in var["name"] for word in SECRET_WORDS) and not var["name"].endswith("_FILE"):
                    assert "secretKeyRef" in var.get("valueFrom", {}), f"{var['name']} is not from a Secret"


def test_each_deployment_has_a_service_and_a_disruption_budget(resources):
    _, docs = resources
    names = {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}
    assert names == {s["metadata"]["name"] for s in of_kind(docs, "Service")}
    assert names == {p["metadata"]["name"] for p in of_kind(docs, "PodDisruptionBudget")}


def test_each_service_logs_in_to_kafka_as_its_own_user_with_the_codes_acls(resources):
    _, docs = resources
    assert (REPO / "deploy" / "k8s" / "base" / "kafka-users.yaml").read_text() == strimzi_yaml(), \
        "out of date: python -m shared.kafka_access strimzi > deploy/k8s/base/kafka-users.yaml"
    users = {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    assert users == set(service_access(Topics()))
    for deployment in of_kind(docs, "Deployment"):
        env = {var["name"]: var for var in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        user = env["ADUAN_KAFKA_USERNAME"]["value"]
        assert user == deployment["metadata"]["name"] and user in users
        assert env["ADUAN_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": user, "key": "password"}


def test_keda_reads_lag_as_its_own_kafka_user_allowed_to_describe_what_it_watches(resources):
    _, docs = resources
    [auth] = of_kind(docs, "TriggerAuthentication")
    [user_map] = [m for m in of_kind(docs, "ConfigMap") if m["metadata"]["name"] == "keda-kafka-user"]
    refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"] + auth["spec"]["configMapTargetRef"]}
    assert user_map["data"][refs["username"]["key"]] == "keda"
    assert (refs["password"]["name"], refs["password"]["key"]) == ("keda", "password")  # the User Operator's Secret
    keda = service_access(Topics())["keda"]
    for scaled in of_kind(docs, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
            assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "disable")
            assert trigger["metadata"]["topic"] in keda.watched_topics
            assert trigger["metadata"]["consumerGroup"] in keda.watched_groups


def test_kafka_topics_match_the_code_and_consumers_scale_within_partitions(resources):
    _, docs = resources
    topics = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic")}
    assert topics == Topics().all_topics()
    for scaled in of_kind(docs, "ScaledObject"):
        trigger = scaled["spec"]["triggers"][0]["metadata"]
        assert scaled["spec"]["maxReplicaCount"] <= topics[trigger["topic"]]


def test_network_policies_deny_by_default(resources):
    _, docs = resources
    policies = {p["metadata"]["name"]: p for p in of_kind(docs, "NetworkPolicy")}
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_every_link_the_services_write_names_the_overlays_own_host(resources):
    """A dev notifier mailing units links to production's inbox would send testers' clicks to the real city."""
    _, docs = resources
    [ingress] = [i for i in of_kind(docs, "Ingress") if i["metadata"]["name"] == "aduan"]
    host = ingress["spec"]["rules"][0]["host"]
    [config] = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].startswith("aduan-config")]
    urls = {name: value for name, value in config["data"].items() if name.endswith("_BASE_URL")}
    assert len(urls) >= 4 and set(urls.values()) == {f"https://{host}"}, urls


def test_production_runs_postgresql_on_cloudnativepg_and_dev_uses_an_external_one():
    production = render("production")
    [cluster] = of_kind(production, "Cluster")
    apps = {d["metadata"]["namespace"] for d in of_kind(production, "Deployment")}
    assert (cluster["metadata"]["name"], {cluster["metadata"].get("namespace")}) == ("aduan-db", apps)
    assert of_kind(render("dev"), "Cluster") == []


@pytest.mark.parametrize(("overlay", "tag"), [("dev", "dev"), ("production", "0.1.0")])
def test_each_overlay_runs_its_own_image_tag(overlay, tag):
    docs = render(overlay)
    templates = [d["spec"]["template"] for d in of_kind(docs, "Deployment") + of_kind(docs, "Job")]
    images = {c["image"] for t in templates for c in t["spec"]["containers"] + t["spec"].get("initContainers", [])}
    assert images == {f"registry.kedirikota.go.id/aduan/aduan:{tag}"}
    # A Job's pod template is immutable: each release is a Job of its own, or applying it is refused. Its
    # name becomes its pods' hostnames, so it is a DNS label: no dots.
    assert [j["metadata"]["name"] for j in of_kind(docs, "Job")] == [f"aduan-migrate-{tag.replace('.', '-')}"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_resources_pass_strict_schema_validation(overlay, tmp_path):
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(yaml.safe_dump_all(render(overlay)))
    result = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", str(rendered)],
                            capture_output=True, text=True, check=False)
    failures = [line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("WARN")]
    assert result.returncode == 0 and failures == [], "\n".join(failures)


OPERATOR_KINDS = {"KafkaTopic", "KafkaUser", "ScaledObject", "TriggerAuthentication", "Cluster", "PodMonitor",
                  "PrometheusRule"}


def test_operator_resources_match_the_operators_own_crds(resources):
    """Strimzi, KEDA and CloudNativePG resources against the schema of the version they name, from the
    operators' CRDs (deploy/k8s/crds): a version the operator does not serve is refused here, as the API
    server refuses it ("no matches for kind")."""
    import jsonschema

    _, docs = resources
    checked = 0
    for doc in docs:
        if doc["kind"] in OPERATOR_KINDS:
            schema = schema_for(doc)
            assert schema is not None, f"{doc['kind']} {doc['metadata']['name']}: {doc['apiVersion']} is not served"
            jsonschema.validate(doc, schema)
            checked += 1
    known = {"Namespace", "Deployment", "Service", "PodDisruptionBudget", "Job", "Ingress", "NetworkPolicy",
             "ConfigMap", *OPERATOR_KINDS}
    assert {d["kind"] for d in docs} <= known, "a new kind needs a schema check"
    assert checked >= 12


def test_the_crds_refuse_what_the_operators_would():
    import jsonschema

    topic = next(d for d in render("dev") if d["kind"] == "KafkaTopic")
    schema = schema_for(topic)
    assert schema is not None
    for broken in ({"partitions": 0}, {"partitions": "six"}, {"replica": 3}):
        bad = {**topic, "spec": {**topic["spec"], **broken}}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    assert schema_for({**topic, "apiVersion": "kafka.strimzi.io/v1beta2"}) is None  # Strimzi 1.2 serves v1 only


def test_the_crds_are_the_operators_files_unchanged():
    """deploy/k8s/crds/README.md names each file's origin; the copies are byte for byte upstream's."""
    import hashlib

    readme = (REPO / "deploy" / "k8s" / "crds" / "README.md").read_text()
    for path in sorted((REPO / "deploy" / "k8s" / "crds").glob("*.yaml")):
        assert f"`{path.name}`" in readme and hashlib.sha256(path.read_bytes()).hexdigest() in readme, path.name


def _names(selector: dict) -> set[str]:
    """The app names a pod selector picks (matchLabels or an `In` expression on the name label)."""
    if "matchLabels" in selector:
        return {selector["matchLabels"]["app.kubernetes.io/name"]}
    [expression] = selector["matchExpressions"]
    assert (expression["key"], expression["operator"]) == ("app.kubernetes.io/name", "In")
    return set(expression["values"])


def test_the_phone_intakes_reach_the_web_status_api(resources):
    _, docs = resources
    pods = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in of_kind(docs, "Deployment")}
    [web] = [s for s in of_kind(docs, "Service") if s["metadata"]["name"] == "intake-web"]
    for intake, prefix in (("intake-sms", "ADUAN_SMS"), ("intake-whatsapp", "ADUAN_WHATSAPP")):
        env = {var["name"]: var.get("value") for var in pods[intake]["containers"][0]["env"]}
        assert env[f"{prefix}_STATUS_API_URL"] == "http://intake-web" and web["spec"]["ports"][0]["port"] == 80
    web_port = pods["intake-web"]["containers"][0]["ports"][0]["containerPort"]
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    egress, ingress = policies["phone-intakes-to-web-status"], policies["intake-web-from-phone-intakes"]
    assert _names(egress["podSelector"]) == {"intake-sms", "intake-whatsapp"}
    assert _names(egress["egress"][0]["to"][0]["podSelector"]) == {"intake-web"}
    assert _names(ingress["podSelector"]) == {"intake-web"}
    assert _names(ingress["ingress"][0]["from"][0]["podSelector"]) == {"intake-sms", "intake-whatsapp"}
    assert egress["egress"][0]["ports"] == ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": web_port}]


def test_the_unit_inbox_and_back_office_are_public_and_the_router_api_is_not(resources):
    _, docs = resources
    [ingress] = of_kind(docs, "Ingress")
    routes = {p["path"]: p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert [path for path, service in routes.items() if service == "router"] == ["/unit", "/ppid"]
    pods = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in of_kind(docs, "Deployment")}
    # Router and notifier sign and check inbox links with one secret.
    secret_of = {name: {v["name"]: v["valueFrom"]["secretKeyRef"] for v in pods[name]["containers"][0]["env"]
                        if "INBOX_SECRET" in v["name"]} for name in ("router", "notifier")}
    assert secret_of["router"]["ADUAN_ROUTER_INBOX_SECRET"] == secret_of["notifier"]["ADUAN_NOTIFIER_INBOX_SECRET"]
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    inbox = policies["router-inbox-from-ingress"]
    assert inbox["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "router"}
    assert inbox["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"}
    # The back-office reads the delivery records with one token, both ways allowed, nothing else.
    token_of = {name: [v["valueFrom"]["secretKeyRef"] for v in pods[name]["containers"][0]["env"]
                       if v["name"].endswith("RECORD_TOKEN")] for name in ("router", "notifier", "lapor-sync")}
    assert all(refs == [{"name": "aduan-delivery-record", "key": "token"}] for refs in token_of.values()), token_of
    readers = {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                     "values": ["notifier", "lapor-sync"]}]}
    out = policies["router-to-delivery-records"]
    assert out["egress"][0]["to"][0]["podSelector"] == readers and out["egress"][0]["ports"][0]["port"] == 8080
    into = policies["delivery-records-from-router"]
    assert into["podSelector"] == readers and into["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "router"}}}]


def test_the_database_pods_let_in_the_services_and_the_operator_and_reach_the_api():
    """The base's default-deny selects every pod of the namespace, CloudNativePG's instances too."""
    docs = render("production")
    policies = of_kind(docs, "NetworkPolicy")
    db_selector = {"matchLabels": {"cnpg.io/cluster": "aduan-db"}}
    ingress = [rule for p in policies if p["spec"]["podSelector"] == db_selector
               and "Ingress" in p["spec"]["policyTypes"] for rule in p["spec"].get("ingress", [])]
    egress = [rule for p in policies if p["spec"]["podSelector"] == db_selector
              and "Egress" in p["spec"]["policyTypes"] for rule in p["spec"].get("egress", [])]

    def ports(rule: dict) -> set[int]:
        return {port["port"] for port in rule["ports"]}

    [apps_out] = [p for p in policies if p["metadata"]["name"] == "postgres"]
    clients = _names(apps_out["spec"]["podSelector"])
    admitted = {name for rule in ingress if 5432 in ports(rule) for peer in rule["from"]
                if "podSelector" in peer and "namespaceSelector" not in peer
                and "matchExpressions" in peer["podSelector"] for name in _names(peer["podSelector"])}
    assert clients <= admitted
    cnpg_system = {"kubernetes.io/metadata.name": "cnpg-system"}
    operator = [rule for rule in ingress for peer in rule["from"]
                if peer.get("namespaceSelector", {}).get("matchLabels") == cnpg_system]
    assert operator and all({8000, 5432} <= ports(rule) for rule in operator)
    assert any("to" not in rule and {443, 6443} <= ports(rule) for rule in egress)
    [cluster] = of_kind(docs, "Cluster")
    assert "enablePodMonitor" not in cluster["spec"].get("monitoring", {})  # deprecated upstream
    assert [m["spec"]["selector"] for m in of_kind(docs, "PodMonitor") if m["metadata"]["name"] == "aduan-db"] == [
        db_selector]


def render_dir(name: str) -> list[dict]:
    out = subprocess.run([KUSTOMIZE, "build", str(REPO / "deploy" / "k8s" / name)],
                         capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize(("kafka", "overlay"), [("kafka", "production"), ("kafka-dev", "dev")])
def test_the_kafka_cluster_reconciles_the_topics_and_users_and_serves_the_services(kafka, overlay):
    """Strimzi's topic and user operators reconcile only the namespace they watch: the application's."""
    import jsonschema

    cluster_docs, app_docs = render_dir(kafka), render(overlay)
    for doc in cluster_docs:
        schema = schema_for(doc)
        assert schema is not None, f"{doc['kind']} {doc['apiVersion']} is not served"
        jsonschema.validate(doc, schema)
    [cluster] = of_kind(cluster_docs, "Kafka")
    [pool] = of_kind(cluster_docs, "KafkaNodePool")
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == name
    watched = cluster["spec"]["entityOperator"]
    for kind, operator in (("KafkaTopic", "topicOperator"), ("KafkaUser", "userOperator")):
        resources = of_kind(app_docs, kind)
        assert resources and {r["metadata"]["namespace"] for r in resources} == {watched[operator]["watchedNamespace"]}
        assert {r["metadata"]["labels"]["strimzi.io/cluster"] for r in resources} == {name}
    # The services' bootstrap address is this cluster's bootstrap Service, on the SCRAM listener.
    [config] = [c for c in of_kind(app_docs, "ConfigMap") if c["metadata"]["name"].startswith("aduan-config")]
    [listener] = [li for li in cluster["spec"]["kafka"]["listeners"] if li["authentication"]["type"] == "scram-sha-512"]
    bootstrap = f"{name}-kafka-bootstrap.{namespace}.svc:{listener['port']}"
    assert config["data"]["ADUAN_KAFKA_BOOTSTRAP_SERVERS"] == bootstrap
    assert listener["tls"] is False and cluster["spec"]["kafka"]["authorization"]["type"] == "simple"
    replicas = int(config["data"]["ADUAN_KAFKA_REPLICATION_FACTOR"])
    assert pool["spec"]["replicas"] >= replicas
    # The lag the alerts read comes from this cluster's Kafka Exporter, scraped.
    assert cluster["spec"]["kafkaExporter"]["groupRegex"] == ".*"
    assert [m["spec"]["selector"]["matchLabels"]["strimzi.io/cluster"] for m in of_kind(cluster_docs, "PodMonitor")
            ] == [name]
    assert cluster["spec"]["kafka"]["config"]["default.replication.factor"] == replicas


def test_alerts_and_scrapes_name_what_the_code_exports(resources):
    """An alert on a metric nobody exports never fires: each aduan_* name in a rule is defined in the code,
    and every service's pods are scraped on the port that serves /metrics."""
    import re

    _, docs = resources
    code = "\n".join(path.read_text() for folder in ("services", "shared") for path in (REPO / folder).rglob("*.py"))
    exported = set(re.findall(r'(?:Counter|Gauge|Histogram|Summary)\(\s*"(aduan_[a-z_]+)"', code))
    [rule] = of_kind(docs, "PrometheusRule")
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    named = {name for r in alerts for name in re.findall(r"aduan_[a-z_]+", r["expr"])}
    assert named and named <= exported, named - exported
    # Any other metric is the Kafka Exporter's (deploy/k8s/kafka enables and scrapes it).
    # (A name followed by "(" is a PromQL function: present_over_time.)
    others = {name for r in alerts for name in re.findall(r"\b[a-z]+_[a-z_]+\b(?!\s*\()", r["expr"])} - named
    assert others <= {"kafka_consumergroup_lag"}, others
    assert {"AduanDeadLetters", "AduanLaporCircuitOpen", "AduanServiceDown", "AduanDeadlinesMissed"} <= {
        r["alert"] for r in alerts}
    [monitor] = [m for m in of_kind(docs, "PodMonitor") if m["metadata"]["name"] == "aduan"]
    [port] = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    for deployment in of_kind(docs, "Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert port in {p["name"] for p in container["ports"]}, deployment["metadata"]["name"]


def test_the_dashboard_reads_metrics_that_exist(resources):
    """The Grafana dashboard (a ConfigMap for Grafana's sidecar): valid JSON, and every panel's query names a
    metric the code exports, or the Kafka Exporter's lag."""
    import json
    import re

    _, docs = resources
    [config] = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == "aduan-dashboard"]
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config["data"]["aduan-flow.json"])
    code = "\n".join(path.read_text() for folder in ("services", "shared") for path in (REPO / folder).rglob("*.py"))
    exported = set(re.findall(r'(?:Counter|Gauge|Histogram|Summary)\(\s*"(aduan_[a-z_]+)"', code))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    # Metric names, not PromQL's functions (histogram_quantile); a histogram's series are its name + _bucket.
    names = [name for expr in exprs for name in re.findall(r"\b[a-z]+_[a-z_]+\b(?!\s*\()", expr)]
    named = {re.sub(r"_bucket$", "", name) for name in names}
    assert len(exprs) >= 8 and named <= exported | {"kafka_consumergroup_lag"}, named - exported
    assert {"aduan_complaints_received_total", "aduan_assignments_total", "aduan_escalations_total",
            "aduan_delivery_seconds"} <= named
