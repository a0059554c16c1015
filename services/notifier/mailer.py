"""SMTP adapter."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from services.notifier.settings import NotifierSettings


class SmtpMailer:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        await aiosmtplib.send(
            message, hostname=s.smtp_host, port=s.smtp_port, start_tls=s.smtp_starttls,
            username=s.smtp_username, password=s.smtp_password, timeout=s.smtp_timeout_seconds,
        )
