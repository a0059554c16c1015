"""The notifier's SMTP adapter against a real SMTP server (aiosmtpd, in this process): it keeps its sessions
for the next mails, and a session the server dropped, or one a refusal left in doubt, is not reused."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from services.notifier.mailer import SmtpMailer
from services.notifier.settings import NotifierSettings
from shared.jobs import PermanentFailure
from tests.support.processes import free_port


class CountingServer:
    """Takes every mail except to refused@; counts the sessions (each says EHLO once)."""

    def __init__(self) -> None:
        self.sessions = 0
        self.subjects: list[str] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 (aiosmtpd's name)
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("refused@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.subjects.append(next(line for line in envelope.content.decode().splitlines()
                                  if line.startswith("Subject:")).removeprefix("Subject: "))
        return "250 Message accepted for delivery"


@pytest.fixture
def server():
    handler, port = CountingServer(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, controller
    controller.stop()


def mail(subject: str, to: str = "inspektorat@kedirikota.go.id") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "aduan@kedirikota.go.id", to, subject
    message.set_content("Isi aduan")
    return message


def mailer_for(controller: Controller) -> SmtpMailer:
    return SmtpMailer(NotifierSettings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_starttls=False))


async def test_mails_share_a_few_kept_sessions(server):
    handler, controller = server
    mailer = mailer_for(controller)
    for round_ in range(5):  # 5 rounds of 4 at once: at most 4 sessions, however many mails
        await asyncio.gather(*(mailer.send(mail(f"aduan {round_}-{n}")) for n in range(4)))
    await mailer.close()
    assert sorted(handler.subjects) == sorted(f"aduan {r}-{n}" for r in range(5) for n in range(4))
    assert handler.sessions <= 4


async def test_a_session_the_server_dropped_is_replaced_and_the_mail_still_goes():
    handler, port = CountingServer(), free_port()
    first = Controller(handler, hostname="127.0.0.1", port=port)
    first.start()
    mailer = mailer_for(first)
    await mailer.send(mail("sebelum"))
    first.stop()  # the server goes away and comes back: the kept session is dead
    again = Controller(handler, hostname="127.0.0.1", port=port)
    again.start()
    try:
        await mailer.send(mail("sesudah"))
        await mailer.close()
    finally:
        again.stop()
    assert handler.subjects == ["sebelum", "sesudah"] and handler.sessions == 2


async def test_a_refused_recipient_is_permanent_and_its_session_is_not_reused(server):
    handler, controller = server
    mailer = mailer_for(controller)
    with pytest.raises(PermanentFailure, match="550"):
        await mailer.send(mail("ditolak", to="refused@kedirikota.go.id"))
    assert mailer.idle == []
    await mailer.send(mail("berikutnya"))
    await mailer.close()
    assert handler.subjects == ["berikutnya"] and handler.sessions == 2
