"""SMTP adapter, keeping its connections: a connection per mail cost a TCP handshake, EHLO, STARTTLS, AUTH
and QUIT each time (docs/performance.md)."""

from __future__ import annotations

import time
from email.message import EmailMessage

import aiosmtplib

from services.notifier.settings import NotifierSettings
from shared.jobs import PermanentFailure

# A kept connection idle longer than this is closed rather than reused: mail servers drop idle sessions
# (RFC 5321 asks them to wait 5 minutes; some wait one), and a dropped one would fail the next mail.
IDLE_SECONDS = 30.0


class SmtpMailer:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        self.idle: list[tuple[aiosmtplib.SMTP, float]] = []  # connected, not in use, with when they were last

    async def send(self, message: EmailMessage) -> None:
        try:
            await self._send(message)
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= 500:  # 5xx: the server refuses this message for good (no such mailbox)
                raise PermanentFailure(f"SMTP {error.code}: {error.message}") from error
            raise
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure(f"SMTP refused the recipients: {error.recipients}") from error

    async def _send(self, message: EmailMessage) -> None:
        client = self._kept()
        if client is not None:
            try:
                await self._send_on(client, message)
                return
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                # The server closed the kept session, nearly always before it took anything: a new session
                # sends it. (Had it taken the mail and then dropped, this is the duplicate any retry makes,
                # with the same Message-ID.)
                pass
        await self._send_on(self._client(), message, connect=True)

    async def _send_on(self, client: aiosmtplib.SMTP, message: EmailMessage, connect: bool = False) -> None:
        try:
            if connect:
                await client.connect()
            await client.send_message(message)
        except BaseException:
            client.close()  # dropped, or in an unknown state (a refused recipient, a timeout): never reused
            raise
        self.idle.append((client, time.monotonic()))

    def _kept(self) -> aiosmtplib.SMTP | None:
        while self.idle:
            client, since = self.idle.pop()
            if client.is_connected and time.monotonic() - since < IDLE_SECONDS:
                return client
            client.close()
        return None

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, start_tls=s.smtp_starttls,
            username=s.smtp_username, password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout_seconds,
            # Our own name in HELO: aiosmtplib otherwise looks up this host's FQDN in a thread for every mail.
            local_hostname=s.mail_domain)

    async def close(self) -> None:
        while self.idle:
            client, _ = self.idle.pop()
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
