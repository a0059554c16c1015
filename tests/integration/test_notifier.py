"""The notifier against the real broker, database and a real SMTP server."""

from __future__ import annotations

import pytest

from standins.smtp_sink import read_maildir
from tests.support import events
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def notifier(processes, smtp_server):
    port, _ = smtp_server
    return processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT",
                           {"ADUAN_NOTIFIER_SMTP_PORT": str(port)})


def body(message) -> str:
    return message.get_payload(decode=True).decode()


async def test_unit_is_mailed_once_even_when_the_event_is_redelivered(notifier, smtp_server, infra, topics, db):
    _, maildir = smtp_server
    assigned = events.assigned("Denda pajak hotel kami dihitung salah oleh petugas pendapatan")
    for _ in range(3):
        await publish(infra.kafka_bootstrap, topics.assigned, assigned.model_dump_json().encode(),
                      key=assigned.complaint_id.encode())

    sent = await eventually(lambda: db.fetchval(
        "SELECT attempts FROM notifier.deliveries WHERE assignment_id = $1 AND status = 'sent'",
        assigned.assignment_id))
    assert sent is not None
    # All three copies processed (attempts counts them) before we count the mail.
    assert await eventually(lambda: db.fetchval(
        "SELECT attempts = 3 FROM notifier.deliveries WHERE assignment_id = $1", assigned.assignment_id))
    mails = [m for m in read_maildir(maildir) if m["X-Aduan-Assignment-Id"] == assigned.assignment_id]
    assert len(mails) == 1
    [mail] = mails
    assert mail["To"] == "bppkad@kedirikota.go.id"
    assert assigned.tracking_code in mail["Subject"]
    assert "Siti Aminah" in body(mail)  # this reporter did not ask for anonimity


async def test_rahasia_reporter_identity_never_reaches_the_unit(notifier, smtp_server, infra, topics):
    _, maildir = smtp_server
    assigned = events.assigned("Ada ASN yang ikut kampanye partai politik saat jam dinas",
                               anonymity=events.Anonymity.RAHASIA)
    await publish(infra.kafka_bootstrap, topics.assigned, assigned.model_dump_json().encode(),
                  key=assigned.complaint_id.encode())

    mails = await eventually(lambda: [m for m in read_maildir(maildir)
                                      if m["X-Aduan-Assignment-Id"] == assigned.assignment_id])
    text = mails[0].as_string() + body(mails[0])
    for identity in ("Siti", "Aminah", "81234567890", "siti@example.id"):
        assert identity not in text
    assert "dirahasiakan" in body(mails[0])


async def test_mail_server_down_then_up_delivers_without_losing_the_complaint(
        processes, infra, topics, db, tmp_path):
    from standins.smtp_sink import start
    from tests.support.processes import free_port

    port, maildir = free_port(), tmp_path / "late-mail"
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT",
                    {"ADUAN_NOTIFIER_SMTP_PORT": str(port)})
    assigned = events.assigned("Hotspot wifi di alun-alun lemot sekali")
    await publish(infra.kafka_bootstrap, topics.assigned, assigned.model_dump_json().encode(),
                  key=assigned.complaint_id.encode())
    # Nothing listens on the SMTP port yet: the attempt fails and is recorded, not committed.
    assert await eventually(lambda: db.fetchval(
        "SELECT last_error IS NOT NULL FROM notifier.deliveries WHERE assignment_id = $1",
        assigned.assignment_id))

    controller = start(maildir, port)
    try:
        mails = await eventually(lambda: read_maildir(maildir))
        assert [m["X-Aduan-Assignment-Id"] for m in mails] == [assigned.assignment_id]
    finally:
        controller.stop()
