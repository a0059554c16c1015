"""SMTP adapter."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from services.notifier.settings import NotifierSettings
from shared.jobs import PermanentFailure


class SmtpMailer:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message, hostname=s.smtp_host, port=s.smtp_port, start_tls=s.smtp_starttls,
                username=s.smtp_username, password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                timeout=s.smtp_timeout_seconds,
                # Our own name in HELO: aiosmtplib otherwise looks up this host's FQDN in a thread for every mail.
                local_hostname=s.mail_domain)
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= 500:  # 5xx: the server refuses this message for good (no such mailbox)
                raise PermanentFailure(f"SMTP {error.code}: {error.message}") from error
            raise
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure(f"SMTP refused the recipients: {error.recipients}") from error
