# Everything starts from here: `make run` and `make test` set up what they need themselves.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: run test unit lint infra browser gateways k8s-tools k8s-check image image-check stop reset venv bench bench-rules bench-web bench-deliveries bench-router bench-e2e chaos new-channel replay report

# Virtualenv with the pinned packages; re-installed when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# The local broker's super user (deploy/local/kafka.sh): topics are made, and dead letters replayed, as it;
# the services log in as themselves (deploy/local/run.sh).
LOCAL_KAFKA_ADMIN := ADUAN_KAFKA_USERNAME=admin ADUAN_KAFKA_PASSWORD=local-kafka-admin

# Kafka (KRaft, jars from Maven Central), PostgreSQL (Debian packages) and the evidence store (SeaweedFS,
# built from the Go module proxy), as local processes.
infra: venv
	deploy/local/kafka.sh start
	deploy/local/postgres.sh start
	deploy/local/s3.sh install
	deploy/local/s3.sh start
	$(LOCAL_KAFKA_ADMIN) $(PY) -m shared.topics

# All services, Kannel and Gammu SMSD, and the stand-ins in one terminal; Ctrl-C stops them all.
run: infra gateways
	deploy/local/run.sh

# Debian's Kannel (with fakesmsc) and Gammu SMSD: the real SMS gateways (docs/sms-gateways.md).
gateways:
	deploy/local/kannel.sh install
	deploy/local/gammu.sh install

# Debian's chromium and chromedriver, for the web form's browser test.
browser:
	deploy/local/install-browser.sh
	deploy/local/install-axe.sh

# kustomize, built from the Go module proxy into .local/bin (once).
KUSTOMIZE := .local/bin/kustomize
$(KUSTOMIZE):
	GOBIN=$(CURDIR)/.local/bin go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1

# promtool, Prometheus' own rule checker and rule unit-test runner (tests/deploy/test_alert_rules.py), from
# the Go module proxy into .local/bin (once). Module v0.316.0 is Prometheus 3.16.0; the version is stamped as
# Prometheus' release builds do (.promu.yml), since go install leaves it empty.
PROMTOOL_MODULE  := v0.316.0
PROMTOOL_VERSION := 3.16.0
PROMTOOL := .local/bin/promtool
$(PROMTOOL):
	GOBIN=$(CURDIR)/.local/bin go install \
	  -ldflags "-X github.com/prometheus/common/version.Version=$(PROMTOOL_VERSION) -X github.com/prometheus/common/version.Revision=$(PROMTOOL_MODULE)" \
	  github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_MODULE)

# kustomize and promtool; kube-apiserver and kubectl, built from the Go module proxy (once), and Debian's
# etcd: a real API server for tests/deploy/test_api_server.py.
k8s-tools: $(KUSTOMIZE) $(PROMTOOL)
	deploy/local/kube-apiserver.sh install

# Everything about deploy/ that can be checked without a cluster: lint, the operators' CRDs, and both
# environments applied to a real kube-apiserver.
k8s-check: venv k8s-tools
	$(VENV)/bin/yamllint -s deploy/k8s
	$(VENV)/bin/hadolint Dockerfile
	$(PY) -m pytest -q tests/deploy

# The Dockerfile built with podman (Debian's), tagged as the overlays name it (:dev and the release);
# a labelled local stand-in for the base image when no registry can be reached (deploy/image/build.sh).
image:
	deploy/image/build.sh

# The image run as the manifests run it (uid 10001, read-only root, no capabilities, their commands and env)
# against the local Kafka and PostgreSQL: the migrate Job, then each service until its /readyz answers 200.
image-check: infra image k8s-tools
	deploy/image/check.sh

# Lint, import order and static types (configured in pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The whole suite against the real broker, database, SMS gateways and browser; deploy/ checks too.
test: lint infra browser gateways k8s-check image-check
	$(PY) -m pytest

# Only the tests that need no broker or database (seconds).
unit: lint
	$(PY) -m pytest tests/unit

# Every benchmark in turn; each prints its figures beside a baseline and one summary line.
bench: bench-rules bench-router bench-e2e

# Router throughput on 20,000 queued complaints, beside a bare aiokafka pass-through.
bench-router: infra
	$(PY) -m bench.router_throughput

# End-to-end latency at a steady offered load through the HTTP intakes, and each service's peak RSS.
bench-e2e: infra
	$(PY) -m bench.e2e_latency

# The fault suite: kills and restarts while complaints flow, on a Kafka and PostgreSQL of its own.
chaos: venv
	$(PY) -m pytest -p no:cacheprovider -s tests/chaos

# Speed of the pure rule engine (no servers), beside normalisation alone.
bench-rules: venv
	$(PY) -m bench.rules_engine

# A new intake channel that already passes the channel contract suite: make new-channel name=telegram
# Accept rate and latency of the web JSON endpoint on one core, beside a bare Kafka-producing endpoint.
bench-web: infra
	$(PY) -m bench.web_intake

# Deliveries per second to the local SMTP server and the LAPOR! stand-in, beside direct sends.
bench-deliveries: infra
	$(PY) -m bench.deliveries

# Re-deliver a service's dead letters after fixing their cause: make replay service=notifier
replay: venv
	$(LOCAL_KAFKA_ADMIN) $(PY) -m shared.replay $(service)

# The PPID's report for a period, as CSV files and an HTML page: make report from=2026-01-01 to=2026-12-31
report: venv
	$(PY) -m services.router.reports --from $(from) --to $(to)

new-channel: venv
	$(PY) -m shared.scaffold $(name)

stop:
	deploy/local/kannel.sh stop
	deploy/local/gammu.sh stop
	deploy/local/kafka.sh stop
	deploy/local/postgres.sh stop
	deploy/local/s3.sh stop

# Stop and delete local data (Kafka logs, database, evidence, mail); keeps the virtualenv and Kafka jars.
reset:
	deploy/local/kafka.sh reset
	deploy/local/postgres.sh reset
	deploy/local/s3.sh reset
	rm -rf .local/mail
