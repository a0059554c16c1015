"""The notifier against the real broker and database, a real SMTP server and the stand-ins."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from shared.contracts import ComplaintStatus, DeliveryReceipt, DeliveryState, EscalationStage, LaporReportLinked
from shared.topics import dead_letter_topic
from standins.smtp_sink import read_maildir, start
from tests.conftest import fast_retries
from tests.support import events
from tests.support.kafka import eventually, publish, publish_events, read_topic, until
from tests.support.processes import KAFKA_PASSWORDS, free_port
from tests.support.units import registry_file

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
WEBHOOK_SECRET = "unit-webhook-secret"


def notifier_env(smtp_port: int, **extra: str) -> dict[str, str]:
    return {"ADUAN_NOTIFIER_SMTP_PORT": str(smtp_port), **fast_retries("ADUAN_NOTIFIER_"), **extra}


@pytest.fixture
def notifier(processes, smtp_server, sms_standin, whatsapp_standin):
    port, _ = smtp_server
    return processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", notifier_env(port, **{
        # The signed HTTP gateway (a stand-in); real Kannel and Gammu: tests/gateways.
        "ADUAN_NOTIFIER_SMS_GATEWAYS": "[\"generic\"]",
        "ADUAN_NOTIFIER_GENERIC_SMS_URL": f"{sms_standin.url}/api/v1/messages",
        "ADUAN_NOTIFIER_WHATSAPP_API_URL": f"{whatsapp_standin.url}/v21.0"}))


async def send_assigned(infra, topics, assigned) -> None:
    await publish_events(infra.kafka_bootstrap, topics.assigned, [assigned])


def mails_for(maildir, assignment_id: str) -> list:
    return [m for m in read_maildir(maildir) if m["X-Aduan-Assignment-Id"] == assignment_id]


def body(message) -> str:
    return message.get_payload(decode=True).decode()


async def test_unit_is_mailed_once_even_when_the_event_is_redelivered(notifier, smtp_server, infra, topics, db):
    _, maildir = smtp_server
    assigned = events.assigned("Denda pajak hotel kami dihitung salah oleh petugas pendapatan")
    for _ in range(3):
        await send_assigned(infra, topics, assigned)
    assert await eventually(lambda: db.fetchval(
        "SELECT status = 'done' FROM notifier.jobs WHERE job_key = $1", f"unit_email:{assigned.assignment_id}"))
    sentinel = events.assigned("Hotspot wifi di alun-alun lemot")  # same partition, after the copies
    await publish_events(infra.kafka_bootstrap, topics.assigned, [sentinel], key=assigned.complaint_id)
    assert await eventually(lambda: mails_for(maildir, sentinel.assignment_id))
    [mail] = mails_for(maildir, assigned.assignment_id)
    assert mail["To"] == "bppkad@kedirikota.go.id" and assigned.tracking_code in mail["Subject"]
    text = body(mail)
    assert "Siti Aminah" in text  # this reporter did not ask for anonimity
    assert "Tindak lanjut paling lambat" in text and f"kode={assigned.tracking_code}" in text
    # Both mails are in the delivery-latency histogram the dashboard draws (deploy/k8s/base/dashboards).
    metrics = httpx.get(notifier.url + "/metrics").text.splitlines()
    latency = {line.split()[0]: float(line.split()[1]) for line in metrics
               if line.startswith("aduan_delivery_seconds_")}
    assert latency['aduan_delivery_seconds_count{kind="unit_email",service="notifier"}'] >= 2, latency
    assert latency['aduan_delivery_seconds_sum{kind="unit_email",service="notifier"}'] > 0, latency


async def test_rahasia_reporter_identity_never_reaches_the_unit(notifier, smtp_server, infra, topics):
    _, maildir = smtp_server
    assigned = events.assigned("Ada ASN yang ikut kampanye partai politik saat jam dinas",
                               anonymity=events.Anonymity.RAHASIA)
    await send_assigned(infra, topics, assigned)
    [mail] = await eventually(lambda: mails_for(maildir, assigned.assignment_id))
    text = mail.as_string() + body(mail)
    for identity in ("Siti", "Aminah", "81234567890", "siti@example.id"):
        assert identity not in text
    assert "dirahasiakan" in body(mail)


async def test_citizens_are_acknowledged_on_their_own_channel(notifier, smtp_server, sms_standin, whatsapp_standin,
                                                             infra, topics):
    _, maildir = smtp_server
    by_sms = events.assigned("SURGA lampu jalan mati", channel="sms")
    by_whatsapp = events.assigned("Jalan berlubang di depan SDN", channel="whatsapp")
    by_web = events.assigned("Saluran air mampet di depan pasar", channel="web")
    for assigned in (by_sms, by_whatsapp, by_web):
        await send_assigned(infra, topics, assigned)

    sms = await eventually(lambda: httpx.get(f"{sms_standin.url}/_standin/messages").json()["items"])
    assert [(m["to"], m["gateway"]) for m in sms] == [("+6281234567890", "generic")]  # Kannel: tests/gateways
    assert by_sms.tracking_code in sms[0]["text"]
    wa = await eventually(lambda: httpx.get(f"{whatsapp_standin.url}/_standin/messages").json()["items"])
    # Inside the 24-hour window: the acknowledgement as free text, with a "Cek status" reply button.
    assert [(m["to"], m["type"]) for m in wa] == [("6281234567890", "interactive")]
    interactive = wa[0]["body"]["interactive"]
    assert by_whatsapp.tracking_code in interactive["body"]["text"]
    assert interactive["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": f"cek:{by_whatsapp.tracking_code}", "title": "Cek status"}}]
    acks = await eventually(lambda: [m for m in read_maildir(maildir) if m["To"] == "siti@example.id"])
    assert len(acks) == 1 and by_web.tracking_code in acks[0]["Subject"]


async def test_whatsapp_outside_the_24_hour_window_gets_the_template(notifier, whatsapp_standin, infra, topics):
    received = events.received("Pohon tumbang di jalan", channel="whatsapp")
    old = received.model_copy(update={"received_at": datetime.now(UTC) - timedelta(hours=30)})
    await send_assigned(infra, topics, events.assignment_for(old))
    [sent] = await eventually(lambda: httpx.get(f"{whatsapp_standin.url}/_standin/messages").json()["items"])
    assert sent["type"] == "template" and sent["body"]["template"]["language"]["code"] == "id"
    assert sent["body"]["template"]["components"][0]["parameters"][0]["text"] == received.tracking_code


async def test_format_help_reply_goes_out_through_the_sms_gateway(notifier, sms_standin, infra, topics):
    from shared.contracts import CitizenReplyRequested

    reply = CitizenReplyRequested(reply_id="format_help:kannel:k-9", channel="sms", to="+6281298765432",
                                  text="Format aduan SMS: SURGA <isi aduan>.", reason="format_help",
                                  gateway="kannel", producer="tests", correlation_id="k-9")
    for _ in range(2):  # redelivered: still one SMS
        await publish_events(infra.kafka_bootstrap, topics.replies, [reply], key=reply.to)
    [sent] = await eventually(lambda: httpx.get(f"{sms_standin.url}/_standin/messages").json()["items"])
    assert (sent["to"], sent["text"]) == ("+6281298765432", reply.text)


async def test_whatsapp_answers_go_by_bsuid_and_a_day_old_one_is_not_sent(notifier, whatsapp_standin, infra,
                                                                           topics, db):
    from shared.contracts import CitizenReplyRequested

    def reply(reply_id: str, hours_ago: float) -> CitizenReplyRequested:
        return CitizenReplyRequested(
            reply_id=reply_id, channel="whatsapp", to="ID.80019283746501928374", text="SURGA: aduan ... diterima.",
            reason="status", producer="tests", correlation_id=reply_id,
            occurred_at=datetime.now(UTC) - timedelta(hours=hours_ago))

    # The stale one first, on the same partition: the fresh one going out shows the stale one was handled.
    await publish_events(infra.kafka_bootstrap, topics.replies, [reply("status:stale", 30), reply("status:fresh", 0)],
                         key="same-partition")
    [sent] = await until(lambda: httpx.get(f"{whatsapp_standin.url}/_standin/messages").json()["items"], "the answer")
    assert sent["recipient"] == "ID.80019283746501928374" and "to" not in sent and not sent["dropped"]
    assert sent["body"]["text"]["body"] == "SURGA: aduan ... diterima."
    # Outside the window no approved template says "here is your status": not sent, and the job says why.
    result = await until(lambda: db.fetchval("SELECT result FROM notifier.jobs WHERE job_key = $1",
                                             "citizen_reply:status:stale"), "the stale answer's job")
    assert json.loads(result)["not_sent"] == "outside the 24-hour window"


async def test_units_with_a_webhook_get_a_signed_post_without_the_citizens_contact(
        processes, smtp_server, webhook_sink, infra, topics, tmp_path):
    port, _ = smtp_server
    units = registry_file(tmp_path, bppkad={"webhook_url": f"{webhook_sink.url}/hooks/bppkad"})
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", notifier_env(port, **{
        "ADUAN_NOTIFIER_WEBHOOK_SECRETS": json.dumps({"bppkad": WEBHOOK_SECRET}),
        "ADUAN_NOTIFIER_UNITS_FILE": str(units)}))
    assigned = events.assigned("Pembayaran PBB lewat bank gagal")
    await send_assigned(infra, topics, assigned)
    [hook] = await eventually(lambda: httpx.get(f"{webhook_sink.url}/_standin/requests").json()["items"])
    headers = hook["headers"]
    expected = hmac.new(WEBHOOK_SECRET.encode(), headers["x-aduan-timestamp"].encode() + b"." + hook["body"].encode(),
                        hashlib.sha256).hexdigest()
    assert headers["x-aduan-signature"] == f"sha256={expected}"
    payload = json.loads(hook["body"])
    assert payload["assignment_id"] == assigned.assignment_id and "citizen_contact" not in payload


async def test_mail_server_down_while_200_complaints_flow_then_back_every_mail_exactly_once(
        processes, infra, topics, db, tmp_path):
    port, maildir = free_port(), tmp_path / "late-mail"
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", notifier_env(port))
    batch = [events.assigned(f"Aduan nomor {n} tentang lampu jalan mati", message_id=f"smtp-down-{topics.prefix}{n}")
             for n in range(200)]
    await publish_events(infra.kafka_bootstrap, topics.assigned, batch)
    keys = [f"unit_email:{a.assignment_id}" for a in batch]
    # Nothing listens on the SMTP port: every mail fails and is rescheduled, none is lost.
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) = 200 FROM notifier.jobs WHERE job_key = ANY($1) AND attempts >= 2 AND status = 'pending'",
        keys), timeout=60)
    controller = start(maildir, port)
    ids = {a.assignment_id for a in batch}

    def unit_mails() -> list:
        """Mails for this test's assignments. The tests share the notifier's database: a job an earlier test
        left pending (its notifier killed mid-delivery) is this notifier's to deliver, to this mail server."""
        return [m["X-Aduan-Assignment-Id"] for m in read_maildir(maildir) if m["X-Aduan-Assignment-Id"] in ids]

    try:
        assert await eventually(lambda: set(unit_mails()) >= ids, timeout=90)
        assert await eventually(lambda: db.fetchval(
            "SELECT count(*) = 200 FROM notifier.jobs WHERE job_key = ANY($1) AND status = 'done'", keys))
        mails = unit_mails()
    finally:
        controller.stop()
    assert len(mails) == 200 and set(mails) == ids, f"{len(mails)} mails for 200 assignments"
    print(f"smtp-down: 200 assignments, {len(mails)} mails delivered, {len(mails) - len(set(mails))} duplicated")


async def test_poison_event_is_dead_lettered_and_the_next_one_still_flows(notifier, smtp_server, infra, topics):
    _, maildir = smtp_server
    await publish(infra.kafka_bootstrap, topics.assigned, b'{"event_type": "complaint.assigned"}', key=b"k")
    good = events.assigned("Hotspot wifi di alun-alun lemot")
    await send_assigned(infra, topics, good)
    [dead] = await read_topic(infra.kafka_bootstrap, dead_letter_topic(topics.assigned, "notifier"),
                              until=lambda r: len(r) >= 1)
    assert dict(dead.headers)["x-consumer"] == b"notifier"
    assert await eventually(lambda: mails_for(maildir, good.assignment_id))


async def test_delivery_given_up_goes_to_the_dead_letter_topic_and_replay_delivers_it(
        processes, smtp_server, webhook_sink, infra, topics, db, tmp_path):
    port, _ = smtp_server
    units = registry_file(tmp_path, bppkad={"webhook_url": f"{webhook_sink.url}/hooks/bppkad"})
    env = notifier_env(port, ADUAN_NOTIFIER_RETRY_MAX_ATTEMPTS="3",  # no secret for this unit's webhook yet
                       ADUAN_NOTIFIER_UNITS_FILE=str(units))
    notifier = processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", env)
    assigned = events.assigned("Pembayaran PBB lewat bank gagal")
    await send_assigned(infra, topics, assigned)
    [dead] = await read_topic(infra.kafka_bootstrap, dead_letter_topic(topics.assigned, "notifier"),
                              until=lambda r: len(r) >= 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["x-job-kind"] == "unit_webhook" and headers["x-attempts"] == "1"  # permanent: no retries
    assert "no webhook secret" in headers["x-error"]
    assert await eventually(lambda: db.fetchval("SELECT status = 'dead' FROM notifier.jobs WHERE job_key = $1",
                                                f"unit_webhook:{assigned.assignment_id}"))

    # The operator fixes the configuration, restarts, and replays the dead letters.
    processes.stop(notifier)
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT",
                    {**env, "ADUAN_NOTIFIER_WEBHOOK_SECRETS": json.dumps({"bppkad": WEBHOOK_SECRET})})
    import subprocess
    import sys
    # As the person on duty does: the `operator` Kafka user, allowed to read dead letters back.
    operator = {"ADUAN_KAFKA_USERNAME": "operator", "ADUAN_KAFKA_PASSWORD": KAFKA_PASSWORDS["operator"]}
    replay = subprocess.run([sys.executable, "-m", "shared.replay", "notifier"], capture_output=True, text=True,
                            env={**processes.env, **operator, "PATH": "/usr/bin:/bin"}, check=False)
    assert replay.returncode == 0 and "replayed=1" in replay.stdout, replay.stderr
    assert await eventually(lambda: httpx.get(f"{webhook_sink.url}/_standin/requests").json()["items"])
    again = subprocess.run([sys.executable, "-m", "shared.replay", "notifier"], capture_output=True, text=True,
                           env={**processes.env, **operator, "PATH": "/usr/bin:/bin"}, check=False)
    assert "replayed=0" in again.stdout  # a letter is replayed once


async def test_notifier_killed_mid_stream_loses_and_doubles_no_record(processes, smtp_server, infra, topics, db):
    port, maildir = smtp_server
    env = notifier_env(port)
    notifier = processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", env)
    batch = [events.assigned(f"Aduan {n} sampah menumpuk", message_id=f"kill-n-{topics.prefix}{n}") for n in range(300)]
    await publish_events(infra.kafka_bootstrap, topics.assigned, batch)
    keys = [f"unit_email:{a.assignment_id}" for a in batch]
    done_at_kill = await eventually(lambda: db.fetchval(
        "SELECT count(*) FROM notifier.jobs WHERE job_key = ANY($1) AND status = 'done' HAVING count(*) >= 60", keys),
        timeout=60, interval=0.02)
    processes.stop(notifier, signal.SIGKILL)
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", env)
    ids = {a.assignment_id for a in batch}
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) = 300 FROM notifier.jobs WHERE job_key = ANY($1) AND status = 'done'", keys), timeout=120)
    rows = await db.fetch("SELECT job_key FROM notifier.jobs WHERE job_key = ANY($1)", keys)
    assert len(rows) == 300 and {r["job_key"].split(":", 1)[1] for r in rows} == ids
    mails = [m["X-Aduan-Assignment-Id"] for m in read_maildir(maildir) if m["X-Aduan-Assignment-Id"] in ids]
    assert set(mails) == ids and done_at_kill < 300
    # A mail sent in the instant between the SMTP server's answer and the record may go twice.
    print(f"notifier SIGKILL at {done_at_kill} done: 300 assignments, {len(mails)} mails, "
          f"{len(mails) - len(set(mails))} sent twice")
    assert len(mails) - len(set(mails)) <= 8  # at most one batch in flight (concurrency)


def sent_sms(sms_standin) -> list[dict]:
    return httpx.get(f"{sms_standin.url}/_standin/messages").json()["items"]


def mails_with(maildir, header: str, value: str) -> list:
    return [m for m in read_maildir(maildir) if m[header] == value]


async def jobs_done(db, keys: list[str]) -> bool:
    return await db.fetchval("SELECT count(*) = $2 FROM notifier.jobs WHERE job_key = ANY($1) AND status = 'done'",
                             keys, len(keys))


async def test_a_response_reaches_each_citizen_once_on_their_channel(
        notifier, smtp_server, sms_standin, whatsapp_standin, infra, topics, db):
    _, maildir = smtp_server
    by_web = events.assigned("Saluran air mampet di depan pasar", channel="web")
    by_sms = events.assigned("SURGA lampu jalan mati", channel="sms")
    by_whatsapp = events.assigned("Jalan berlubang di depan SDN", channel="whatsapp")
    web_response = events.status_changed(by_web, ComplaintStatus.RESPONDED, 2,
                                         "Saluran sudah dibersihkan.\nTerima kasih.")
    sms_response = events.status_changed(by_sms, ComplaintStatus.RESPONDED, 2, "Lampu diganti hari Kamis.")
    wa_done = events.status_changed(by_whatsapp, ComplaintStatus.DONE, 2, "Lubang sudah ditambal.")
    quiet = [events.status_changed(by_web, ComplaintStatus.ACKNOWLEDGED, 1),  # the citizen hears of no step
             LaporReportLinked(complaint_id=by_web.complaint_id, tracking_code=by_web.tracking_code,
                               lapor_tracking_id="LAPOR-1", lapor_status="Belum Terverifikasi", producer="tests",
                               correlation_id=by_web.complaint_id)]
    for _ in range(3):  # redelivered: still one message each
        await publish_events(infra.kafka_bootstrap, topics.status, [*quiet, web_response, sms_response, wa_done])
    # After the copies on the same partitions: once these are sent, every copy has been taken.
    sentinels = [events.status_changed(by_web, ComplaintStatus.CLOSED, 3),
                 events.status_changed(by_sms, ComplaintStatus.DONE, 3)]
    await publish_events(infra.kafka_bootstrap, topics.status, sentinels)
    keys = [f"citizen_status:{c.change_id}" for c in (web_response, sms_response, wa_done, *sentinels)]
    assert await eventually(lambda: jobs_done(db, keys))

    [mail] = mails_with(maildir, "X-Aduan-Change-Id", web_response.change_id)
    assert mail["To"] == "siti@example.id"
    assert mail["Subject"] == f"[Aduan {by_web.tracking_code}] Aduan Anda ditanggapi"
    assert mail["In-Reply-To"].strip() == f"<{by_web.complaint_id}.citizen_ack@aduan.kedirikota.go.id>"  # folded
    text = body(mail)
    assert "Saluran sudah dibersihkan.\nTerima kasih." in text and f"kode={by_web.tracking_code}" in text
    assert f"ditutup otomatis pada {web_response.close_due.strftime('%d-%m-%Y')}" in text
    [closed] = mails_with(maildir, "X-Aduan-Change-Id", sentinels[0].change_id)
    assert "ditutup" in closed["Subject"]
    assert await db.fetchval("SELECT count(*) FROM notifier.jobs WHERE complaint_id = $1", by_web.complaint_id) == 2

    sms = sent_sms(sms_standin)
    assert [m["to"] for m in sms] == ["+6281234567890"] * 2
    [response] = [m["text"] for m in sms if "ditanggapi" in m["text"]]
    [done] = [m["text"] for m in sms if "selesai" in m["text"]]
    assert by_sms.tracking_code in response and by_sms.tracking_code in done
    assert "Lampu diganti hari Kamis." in response and "ditutup otomatis" in response

    [wa] = httpx.get(f"{whatsapp_standin.url}/_standin/messages").json()["items"]
    template = wa["body"]["template"]
    assert wa["type"] == "template" and template["name"] == "aduan_status"  # the 24-hour window is long past
    assert [p["text"] for p in template["components"][0]["parameters"]] == [
        by_whatsapp.tracking_code, "selesai", "Lubang sudah ditambal.", "-"]


async def test_escalation_mails_the_head_and_the_coordinator_and_never_names_the_reporter(
        processes, smtp_server, infra, topics, db, tmp_path):
    port, maildir = smtp_server
    assigned = events.assigned("Denda pajak hotel kami dihitung salah oleh petugas pendapatan")
    assert assigned.reporter_for_unit.name == "Siti Aminah"  # the unit was told who complained; escalation is not
    escalation = events.escalated(assigned, EscalationStage.FORWARD)
    headless = events.assigned("Hotspot wifi di alun-alun lemot")
    # Recipients come from the registry: this unit has no head on record there, whatever the event says.
    units = registry_file(tmp_path, **{headless.unit.code: {"head_email": None}})
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT",
                    notifier_env(port, ADUAN_NOTIFIER_UNITS_FILE=str(units)))
    to_coordinator = events.escalated(headless, coordinator_email=None)
    for _ in range(2):
        await publish_events(infra.kafka_bootstrap, topics.status, [escalation, to_coordinator])
    keys = [f"escalation_email:{e.escalation_id}" for e in (escalation, to_coordinator)]
    assert await eventually(lambda: jobs_done(db, keys))

    [mail] = mails_with(maildir, "X-Aduan-Escalation-Id", escalation.escalation_id)
    assert (mail["To"], mail["Cc"]) == ("kepala.bppkad@kedirikota.go.id", "ppid@kedirikota.go.id")
    assert mail["X-Envelope-To"] == "kepala.bppkad@kedirikota.go.id, ppid@kedirikota.go.id"
    assert mail["Subject"] == f"ESKALASI: aduan {assigned.tracking_code} melewati tenggat penerusan/konfirmasi"
    text = body(mail)
    assert assigned.unit.name in text and escalation.due.strftime("%d-%m-%Y") in text
    assert f"kode={assigned.tracking_code}" in text
    for identity in ("Siti", "Aminah", "81234567890", "siti@example.id", "Denda pajak"):
        assert identity not in mail.as_string() + text

    [mail] = mails_with(maildir, "X-Aduan-Escalation-Id", to_coordinator.escalation_id)
    assert (mail["To"], mail["Cc"]) == ("ppid@kedirikota.go.id", None) and "tindak lanjut" in mail["Subject"]


async def test_unreadable_status_event_is_dead_lettered_and_the_next_one_still_flows(
        notifier, smtp_server, infra, topics):
    _, maildir = smtp_server
    await publish(infra.kafka_bootstrap, topics.status, b'{"event_type": "complaint.status_changed"}', key=b"k")
    change = events.status_changed(events.assigned("Saluran air mampet"), ComplaintStatus.DONE, 2, "Sudah beres.")
    await publish_events(infra.kafka_bootstrap, topics.status, [change])
    [dead] = await read_topic(infra.kafka_bootstrap, dead_letter_topic(topics.status, "notifier"),
                              until=lambda r: len(r) >= 1)
    assert dict(dead.headers)["x-consumer"] == b"notifier"
    assert await eventually(lambda: mails_with(maildir, "X-Aduan-Change-Id", change.change_id))


async def test_a_citizens_reply_is_mailed_to_the_unit_once_without_the_citizens_contact(
        notifier, smtp_server, sms_standin, infra, topics, db):
    _, maildir = smtp_server
    assigned = events.assigned("SURGA lampu jalan mati di depan SDN 2", channel="sms")
    reply_text = "Lampu sudah diganti tapi mati lagi sejak semalam"
    replied = events.status_changed(assigned, ComplaintStatus.REPLIED, 3, reply_text).model_copy(
        update={"actor": "citizen", "answer_due": date.today() + timedelta(days=7)})
    for _ in range(2):
        await publish_events(infra.kafka_bootstrap, topics.status, [replied])
    assert await eventually(lambda: jobs_done(db, [f"unit_reply_email:{replied.change_id}"]))

    [mail] = mails_with(maildir, "X-Aduan-Change-Id", replied.change_id)
    assert mail["To"] == str(assigned.unit.email)
    subject = " ".join(mail["Subject"].split())  # a long subject comes folded
    assert subject == f"[Aduan {assigned.tracking_code}] Pelapor membalas tanggapan {assigned.unit.name}"
    text = body(mail)
    assert reply_text in text and replied.answer_due.strftime("%d-%m-%Y") in text
    for contact in ("81234567890", "Siti"):
        assert contact not in mail.as_string() + text
    assert sent_sms(sms_standin) == []  # the citizen is not told of their own reply


async def test_receipts_only_move_forward_and_one_for_an_unknown_message_holds_nothing_up(notifier, infra, topics, db):
    def receipt(message_id: str, state: DeliveryState, minutes_ago: float = 0, code: int | None = None):
        return DeliveryReceipt(
            receipt_id=f"whatsapp:{message_id}:{state}", channel="whatsapp", message_id=message_id, state=state,
            at=datetime.now(UTC), error_code=code, producer="tests", correlation_id=message_id,
            occurred_at=datetime.now(UTC) - timedelta(minutes=minutes_ago))

    # Meta's receipts come out of order: "read" first, then a late "delivered" and a resent "sent".
    late = [receipt("wamid.R1", DeliveryState.READ), receipt("wamid.R1", DeliveryState.DELIVERED),
            receipt("wamid.R1", DeliveryState.SENT),
            # A failure for a message no delivery of ours has, reported long ago: recorded, not waited for.
            receipt("wamid.NOTOURS", DeliveryState.FAILED, minutes_ago=10, code=131026),
            receipt("wamid.R2", DeliveryState.DELIVERED)]
    await publish_events(infra.kafka_bootstrap, topics.delivery_receipts, late, key="same-partition")
    rows = await until(lambda: _receipts(db, ["wamid.R1", "wamid.NOTOURS", "wamid.R2"]), "the receipts")
    assert rows == {"wamid.R1": ("read", None), "wamid.NOTOURS": ("failed", 131026), "wamid.R2": ("delivered", None)}


async def _receipts(db, ids: list[str]) -> dict | None:
    rows = await db.fetch("SELECT message_id, state, error_code FROM notifier.delivery_receipts "
                          "WHERE message_id = ANY($1::text[])", ids)
    found = {r["message_id"]: (r["state"], r["error_code"]) for r in rows}
    return found if len(found) == len(ids) else None
