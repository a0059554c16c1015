#!/usr/bin/env bash
# `make run`: every service and stand-in in the foreground (honcho), Kafka and PostgreSQL
# already started by `make infra`. Ctrl-C stops the services, then Kafka and PostgreSQL
# (set ADUAN_KEEP_INFRA=1 to leave those two running).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
export PATH="$REPO/.venv/bin:$PATH"
export ADUAN_SMTP_SINK_MAILDIR="${ADUAN_SMTP_SINK_MAILDIR:-$REPO/.local/mail}"
# Local-only credentials for the router's API and the unit inbox; production sets its own through Secrets.
export ADUAN_ROUTER_OPERATOR_TOKENS="${ADUAN_ROUTER_OPERATOR_TOKENS:-{\"operator\": \"local-operator-token\"\}}"
export ADUAN_ROUTER_UNIT_TOKENS="${ADUAN_ROUTER_UNIT_TOKENS:-{\"inspektorat\": \"local-inspektorat\", \"hukum\": \"local-hukum\", \"bppkad\": \"local-bppkad\", \"prokopim\": \"local-prokopim\", \"diskominfo\": \"local-diskominfo\"\}}"
export ADUAN_ROUTER_INBOX_SECRET="${ADUAN_ROUTER_INBOX_SECRET:-local-inbox-secret-not-for-production}"
export ADUAN_NOTIFIER_INBOX_SECRET="$ADUAN_ROUTER_INBOX_SECRET"
export ADUAN_ROUTER_INBOX_COOKIE_SECURE=false  # plain HTTP on 127.0.0.1
export ADUAN_ROUTER_OPERATOR_ROLES="${ADUAN_ROUTER_OPERATOR_ROLES:-{\"operator\": \"admin\"\}}"  # the back-office
export ADUAN_ROUTER_DELIVERY_RECORD_TOKEN="${ADUAN_ROUTER_DELIVERY_RECORD_TOKEN:-local-delivery-record-token}"
export ADUAN_NOTIFIER_RECORD_TOKEN="$ADUAN_ROUTER_DELIVERY_RECORD_TOKEN"
export ADUAN_LAPOR_SYNC_RECORD_TOKEN="$ADUAN_ROUTER_DELIVERY_RECORD_TOKEN"
# The real SMS gateways (Debian's Kannel with fakesmsc as the SMSC, Gammu SMSD with a dummy modem):
# the SMS intake reads Gammu's inbox; the notifier answers through whichever the citizen used.
GAMMU_DB="postgresql://aduan:aduan@127.0.0.1:${ADUAN_PG_PORT:-15432}/gammu"
export ADUAN_SMS_GAMMU_DATABASE_URL="${ADUAN_SMS_GAMMU_DATABASE_URL:-$GAMMU_DB}"
export ADUAN_NOTIFIER_GAMMU_DATABASE_URL="${ADUAN_NOTIFIER_GAMMU_DATABASE_URL:-$GAMMU_DB}"
export ADUAN_NOTIFIER_SMS_GATEWAYS="${ADUAN_NOTIFIER_SMS_GATEWAYS:-[\"kannel\", \"gammu\", \"generic\"]}"
# Kannel's get-url carries this as key=; the SMS intake refuses Kannel calls without it.
export ADUAN_KANNEL_INBOUND_SECRET="${ADUAN_KANNEL_INBOUND_SECRET:-local-kannel-inbound-secret}"
export ADUAN_SMS_KANNEL_SECRET="$ADUAN_KANNEL_INBOUND_SECRET"
# Local values for what production takes from its Secrets (the services refuse everything without them).
export ADUAN_TRACKING_CODE_KEY="${ADUAN_TRACKING_CODE_KEY:-local-tracking-code-key}"  # every intake the same
export ADUAN_SMS_GATEWAY_SECRET="${ADUAN_SMS_GATEWAY_SECRET:-local-sms-gateway-secret}"
export ADUAN_WHATSAPP_APP_SECRET="${ADUAN_WHATSAPP_APP_SECRET:-local-app-secret}"  # = the stand-in's
export ADUAN_WHATSAPP_VERIFY_TOKEN="${ADUAN_WHATSAPP_VERIFY_TOKEN:-local-verify-token}"
export ADUAN_NOTIFIER_KANNEL_PASSWORD="${ADUAN_NOTIFIER_KANNEL_PASSWORD:-local-kannel-password}"  # = kannel.sh's
export ADUAN_NOTIFIER_GENERIC_SMS_SECRET="$ADUAN_SMS_GATEWAY_SECRET"  # = the SMS stand-in's
export ADUAN_NOTIFIER_WHATSAPP_TOKEN="${ADUAN_NOTIFIER_WHATSAPP_TOKEN:-local-whatsapp-token}"  # = the stand-in's
# Intakes seal citizens' contacts with the public key; only the notifier has the private one (a local pair:
# `python -m shared.contact_seal new-key` makes a real one).
export ADUAN_CONTACT_PUBLIC_KEY="${ADUAN_CONTACT_PUBLIC_KEY:-Vh6xtprjCirbeeB0FElYNAy/S27R7M1TCIIToFBZvCo=}"
export ADUAN_CONTACT_PRIVATE_KEYS="${ADUAN_CONTACT_PRIVATE_KEYS:-10rNvsuaDR4uGXW9a1Ts+S9HRAvf388BWNyihjktbpM=}"
# The WhatsApp stand-in reports on what it sends as Meta does: signed `statuses` webhooks to our intake.
export ADUAN_WHATSAPP_STANDIN_WEBHOOK_URL="${ADUAN_WHATSAPP_STANDIN_WEBHOOK_URL:-http://127.0.0.1:8082/webhook}"

stop_all() {
  "$HERE/kannel.sh" stop || true
  "$HERE/gammu.sh" stop || true
  if [[ "${ADUAN_KEEP_INFRA:-0}" != 1 ]]; then
    "$HERE/kafka.sh" stop || true
    "$HERE/postgres.sh" stop || true
  fi
}
trap stop_all EXIT
# Each service connects as its own role, owning its own schema only (services/migrate.py makes them).
PG_LOCAL="127.0.0.1:${ADUAN_PG_PORT:-15432}/aduan"
export ADUAN_DB_ROLE_PASSWORDS='{"router": "local-router", "notifier": "local-notifier", "lapor_sync": "local-lapor-sync", "web": "local-web", "intake_sms": "local-intake-sms"}'
ADUAN_DB_URL="postgresql://aduan:aduan@$PG_LOCAL" python -m services.migrate
export ADUAN_DB_URL_ROUTER="postgresql://aduan_router:local-router@$PG_LOCAL"
export ADUAN_DB_URL_NOTIFIER="postgresql://aduan_notifier:local-notifier@$PG_LOCAL"
export ADUAN_DB_URL_LAPOR_SYNC="postgresql://aduan_lapor_sync:local-lapor-sync@$PG_LOCAL"
export ADUAN_DB_URL_WEB="postgresql://aduan_web:local-web@$PG_LOCAL"
export ADUAN_DB_URL_INTAKE_SMS="postgresql://aduan_intake_sms:local-intake-sms@$PG_LOCAL"
# And to Kafka as its own user, allowed only its topics (shared/kafka_access.py; made here as the admin).
ADUAN_KAFKA_SERVICE_PASSWORDS='{"intake-web": "local-intake-web", "intake-sms": "local-intake-sms", "intake-whatsapp": "local-intake-whatsapp", "router": "local-router", "notifier": "local-notifier", "lapor-sync": "local-lapor-sync", "operator": "local-operator"}' \
  ADUAN_KAFKA_USERNAME=admin ADUAN_KAFKA_PASSWORD="${ADUAN_KAFKA_ADMIN_PASSWORD:-local-kafka-admin}" \
  python -m shared.kafka_access apply
"$HERE/gammu.sh" start
"$HERE/kannel.sh" start  # it calls the SMS intake's URL per SMS; until that is up, smsbox retries

cat <<INFO

Aduan is starting. Where things listen (all on 127.0.0.1):
  web intake       http://127.0.0.1:8080   (OpenAPI: /docs)
  sms intake       http://127.0.0.1:8081
  whatsapp intake  http://127.0.0.1:8082/webhook
  router           http://127.0.0.1:8090/readyz   notifier :8091   lapor_sync :8092  (/healthz /readyz /metrics)
  router API       http://127.0.0.1:8090/api/v1/complaints/<code>/assignments (token: local-operator-token)
  unit inbox       http://127.0.0.1:8090/unit   (unit code + password local-<code>, e.g. bppkad / local-bppkad,
                   or the signed link in the unit's mail)
  SMTP stand-in    127.0.0.1:8025, mail kept in $ADUAN_SMTP_SINK_MAILDIR/new
  LAPOR! stand-in  http://127.0.0.1:8099/api/v1/reports (token: local-standin-token)
  Kannel (real)    bearerbox admin :13000, sendsms http://127.0.0.1:13013/cgi-bin/sendsms, fakesmsc as SMSC
  Gammu SMSD (real) dummy modem, database postgresql://aduan:aduan@127.0.0.1:15432/gammu
  SMS gateway stand-in (a commercial HTTP gateway)  http://127.0.0.1:13090/_standin/messages
  WhatsApp Cloud API stand-in            http://127.0.0.1:8098/_standin/messages
  Kafka            127.0.0.1:9092      PostgreSQL  postgresql://aduan:aduan@127.0.0.1:15432/aduan

Send a first complaint:
  curl -s -X POST http://127.0.0.1:8080/api/v1/complaints -H 'Content-Type: application/json' \\
       -d '{"text": "Petugas loket minta imbalan untuk tanda tangan surat", "anonymity": "rahasia"}'
then check it:  curl -s http://127.0.0.1:8080/api/v1/complaints/<tracking_code>
and read the unit's mail:  ls $ADUAN_SMTP_SINK_MAILDIR/new

Text as a citizen would, through the real gateways, and see the answers:
  .venv/bin/python -m tests.support.phone kannel +6281234567890 "SURGA lampu jalan di Jl. Dhoho mati"
  .venv/bin/python -m tests.support.phone gammu +6281234567891 "SURGA Jum’at loket kelurahan tutup 😡"
  .venv/bin/python -m tests.support.phone sent

Ctrl-C stops everything.

INFO
honcho start -f "$HERE/Procfile" -d "$REPO"
