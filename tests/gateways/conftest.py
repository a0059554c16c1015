"""The whole system behind Debian's real SMS gateways: Kannel (bearerbox, smsbox, fakesmsc as the SMSC)
and Gammu SMSD (dummy modem), each started from the configuration under deploy/gateways/ that the
city is given. Every service is a separate process, as `make run` starts them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from standins.smtp_sink import read_maildir
from tests.support.gammu import GammuGateway
from tests.support.kannel import KANNEL_INBOUND_SECRET
from tests.support.processes import Processes, Service

# Replies a citizen may get: (text, needs UCS-2, parts a phone receives), the same for every gateway.
REPLIES = [
    ("SURGA: aduan Anda sudah diterima.", False, 1),
    ("Jum’at café 😡 €", True, 1),
    ("Tanggapan unit: " + "jalan sudah ditambal, terima kasih atas laporannya. " * 8, False, 3),
    ("Tanggapan unit: " + "saluran sudah dibersihkan 👍 " * 6, True, 3),
]


def unit_mails(maildir: Path) -> list[tuple[str, str]]:
    """(subject, body) of every mail to a unit so far."""
    mails = []
    for message in read_maildir(maildir):
        if message["X-Aduan-Assignment-Id"]:
            mails.append((str(message["Subject"]), message.get_payload(decode=True).decode()))
    return mails


def mail_with(maildir: Path, text: str) -> list[tuple[str, str]]:
    return [mail for mail in unit_mails(maildir) if text in mail[1]]


@dataclass
class Stack:
    services: dict[str, Service]
    maildir: Path


def start_stack(processes: Processes, smtp_port: int, maildir: Path, database_url: str, *,
                sms_env: dict[str, str], notifier_env: dict[str, str]) -> Stack:
    """Router, web intake (the status API), notifier and SMS intake, wired to one gateway, on a database
    of the test's own: the notifier's job queue and the SMS intake's spool hand what waits in them to
    whichever service runs on that database, and these tests count every SMS that goes out."""
    db = {"ADUAN_DB_URL": database_url}
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps({"bppkad": "bppkad-pass"}), **db})
    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT", db)
    notifier = processes.start("notifier", "services.notifier", "ADUAN_NOTIFIER_PORT", {
        "ADUAN_NOTIFIER_SMTP_PORT": str(smtp_port), "ADUAN_NOTIFIER_RETRY_BASE_SECONDS": "0.2",
        "ADUAN_NOTIFIER_RETRY_MAX_SECONDS": "1", **notifier_env, **db})
    sms = processes.start("sms", "services.intake.sms", "ADUAN_SMS_PORT", {
        "ADUAN_SMS_STATUS_API_URL": web.url, "ADUAN_SMS_SPOOL_RETRY_MAX_SECONDS": "2",
        "ADUAN_SMS_KANNEL_SECRET": KANNEL_INBOUND_SECRET, **sms_env, **db})
    return Stack({"router": router, "web": web, "notifier": notifier, "sms": sms}, maildir)


@pytest.fixture
async def gammu(infra, tmp_path):
    gateway = GammuGateway(infra.database_url, f"gammu_{uuid.uuid4().hex[:8]}", tmp_path)
    await gateway.start()
    yield gateway
    await gateway.reset()
