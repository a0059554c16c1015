"""SMS through Debian's real Gammu SMSD 1.42 (dummy modem, Gammu's own PostgreSQL schema): complaints
of every shape reach the unit's mailbox with their exact text and the modem's time, the citizen's
answers leave through Gammu's outbox in the coding and parts a phone can show, and `SURGA CEK` works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts import CitizenReplyRequested
from standins.smtp_sink import read_maildir
from tests.gateways.conftest import REPLIES, mail_with, start_stack
from tests.support.gammu import split_sms
from tests.support.kafka import json_values, publish_events, read_topic, until

pytestmark = [pytest.mark.gateways, pytest.mark.kafka, pytest.mark.postgres]

# Different senders, so each answer can be told apart.
COMPLAINTS = {
    "+6281200000001": "SURGA lampu jalan di Jl. Dhoho depan toko roti mati sejak tiga hari",  # GSM 7-bit
    "+6281200000002": "SURGA Jum’at kemarin petugas loket kelurahan minta uang 😡 tanpa kuitansi",  # UCS-2
    "+6281200000003": "SURGA " + "jalan di Kelurahan Banjaran berlubang dalam dan sudah ada motor jatuh, "
                      "mohon segera ditambal sebelum musim hujan, terima kasih. " * 2,  # GSM, 2 parts
    "+6281200000004": "SURGA " + "saluran air di gang mampet 😡 bau sekali, warga sudah lapor RT ’ " * 3,  # UCS-2, 3+
}
NOT_A_COMPLAINT = "+6281200000009"


@pytest.fixture
def stack(processes, smtp_server, gammu, own_database_url):
    port, maildir = smtp_server
    return start_stack(processes, port, maildir, own_database_url,
                       sms_env={"ADUAN_SMS_GAMMU_DATABASE_URL": gammu.url, "ADUAN_SMS_GAMMU_POLL_SECONDS": "0.5"},
                       notifier_env={"ADUAN_NOTIFIER_SMS_GATEWAYS": "[\"gammu\"]",
                                     "ADUAN_NOTIFIER_GAMMU_DATABASE_URL": gammu.url})


async def test_complaints_of_every_shape_reach_the_unit_and_the_citizen_hears_back(stack, gammu, infra, topics):
    at = (datetime.now(UTC) - timedelta(minutes=7)).replace(microsecond=0)  # the SMSC's time, before arrival
    for sender, text in COMPLAINTS.items():
        gammu.inject(sender, text, at=at)
    gammu.inject(NOT_A_COMPLAINT, "halo admin, ini nomor siapa?", at=at)
    # The operator's promotion from a name, not a number: no complaint, and nobody to answer.
    gammu.inject("TSEL-PROMO", "Nikmati kuota 10GB hanya Rp10rb, ketik *363#", at=at)
    physical = sum(len(split_sms(text)[1]) for text in COMPLAINTS.values()) + 2
    await gammu.wait_inbox(physical)  # Gammu stores one row per physical SMS: later parts hold no text

    records = await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= len(COMPLAINTS))
    received = {event["reporter"]["phone"]: event for event in json_values(records)}
    assert set(received) == set(COMPLAINTS)
    for sender, text in COMPLAINTS.items():
        event = received[sender]
        assert event["text"] == text.removeprefix("SURGA ").strip(), sender
        assert datetime.fromisoformat(event["received_at"]) == at, sender  # not 7 hours off either way
        await until(lambda e=event: mail_with(stack.maildir, e["text"]), f"unit mail for {sender}")

    # Each citizen is acknowledged once, in parts a phone shows whole; the stray SMS gets the format help
    # once, and no later part of a long SMS is answered as an empty message.
    sent = await gammu.sent(len(COMPLAINTS) + 1, timeout=60)
    by_number = {}
    for sms in sent:
        by_number.setdefault(sms.number, []).append(sms)
    assert sorted(by_number) == sorted([*COMPLAINTS, NOT_A_COMPLAINT])  # nothing to TSEL-PROMO
    rows = await gammu.wait_inbox(physical)
    assert all(row["Processed"] for row in rows)  # every row taken, the promotion too, none left to retry
    for sender, event in received.items():
        [ack] = by_number[sender]
        assert event["tracking_code"] in ack.text and all(part.fits for part in ack.parts)
    [help_sms] = by_number[NOT_A_COMPLAINT]
    assert "SURGA <isi aduan>" in help_sms.text

    # SURGA CEK through the modem: answered from the web intake's status API, through the outbox.
    first = received["+6281200000001"]
    gammu.inject("+6281200000001", f"surga cek {first['tracking_code'].lower()}")
    [status] = await until(lambda: _sent_with(gammu, first["tracking_code"], "+6281200000001", exclude=by_number),
                           "status reply")
    assert status.text.startswith(f"SURGA: aduan {first['tracking_code']}")
    assert len(read_maildir(stack.maildir)) == len(COMPLAINTS)  # a status check files nothing


async def _sent_with(gammu, code: str, number: str, exclude: dict) -> list:
    known = {sms.id for messages in exclude.values() for sms in messages}
    sent = await gammu.sent(1, timeout=5)
    return [sms for sms in sent if sms.number == number and sms.id not in known and code in sms.text]


@pytest.mark.parametrize(("text", "coding", "parts"), [
    (text, "Unicode_No_Compression" if ucs2 else "Default_No_Compression", parts) for text, ucs2, parts in REPLIES])
async def test_replies_leave_in_the_coding_and_parts_the_phone_shows(
        processes, smtp_server, gammu, infra, topics, own_database_url, text, coding, parts):
    port, _ = smtp_server
    processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
        "ADUAN_NOTIFIER_SMTP_PORT": str(port), "ADUAN_NOTIFIER_SMS_GATEWAYS": "[\"gammu\"]",
        "ADUAN_DB_URL": own_database_url,
        "ADUAN_NOTIFIER_GAMMU_DATABASE_URL": gammu.url})
    reply = CitizenReplyRequested(reply_id=f"status:gammu-modem1:{coding}-{parts}", channel="sms",
                                  to="+6281298765432", text=text, reason="status", gateway="gammu-modem1",
                                  producer="tests", correlation_id="t")
    for _ in range(2):  # delivered twice: queued once (CreatorID)
        await publish_events(infra.kafka_bootstrap, topics.replies, [reply], key=reply.to)
    [sms] = await gammu.sent(1, timeout=30)
    assert sms.number == "+6281298765432" and sms.text == text
    assert [part.coding for part in sms.parts] == [coding] * parts
    assert all(part.fits for part in sms.parts), [(p.text, p.udh) for p in sms.parts]
    assert len(await gammu.sent(1, timeout=3)) == 1


async def test_a_gammu_restart_mid_stream_loses_nothing_and_doubles_nothing(stack, gammu, infra, topics):
    """gammu-smsd SIGKILLed while SMS arrive: they wait on the modem's SIM and are stored after it is back;
    the intake's poll over Gammu's table (with our index on what is unprocessed) takes each once."""
    senders = [f"+62812100000{n:02d}" for n in range(9)]
    for sender in senders[:3]:
        gammu.inject(sender, f"SURGA jalan rusak di RT {sender[-2:]}")
    await gammu.wait_inbox(3)
    gammu.kill()
    for sender in senders[3:6]:
        gammu.inject(sender, f"SURGA jalan rusak di RT {sender[-2:]}")
    await gammu.start()
    for sender in senders[6:]:
        gammu.inject(sender, f"SURGA jalan rusak di RT {sender[-2:]}")

    records = await read_topic(infra.kafka_bootstrap, topics.received, until=lambda r: len(r) >= len(senders))
    assert sorted(e["reporter"]["phone"] for e in json_values(records)) == senders  # each once
    indexes = await gammu.indexes("inbox")
    assert "inbox_aduan_unprocessed" in indexes, indexes
