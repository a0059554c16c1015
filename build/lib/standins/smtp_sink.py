"""STAND-IN mail server: a real SMTP server (aiosmtpd) that delivers nothing onwards.

Every message it accepts is written to a Maildir, where a person can read it with any mail
client (`mutt -f .local/mail`) or a text editor, and where the tests read it back.
Run: python -m standins.smtp_sink  (port ADUAN_SMTP_SINK_PORT, default 8025;
Maildir ADUAN_SMTP_SINK_MAILDIR, default .local/mail)
"""

from __future__ import annotations

import mailbox
import os
import signal
import threading
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, maildir: Path) -> None:
        for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips them when the folder exists
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self.mailbox = mailbox.Maildir(maildir, create=True)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.original_content or envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.mailbox.add(message)
        return "250 Message accepted for delivery"


def read_maildir(maildir: Path) -> list[Message]:
    return list(mailbox.Maildir(maildir, create=False)) if maildir.exists() else []


def start(maildir: Path, port: int, host: str = "127.0.0.1") -> Controller:
    controller = Controller(MaildirHandler(maildir), hostname=host, port=port)
    controller.start()
    return controller


if __name__ == "__main__":
    path = Path(os.environ.get("ADUAN_SMTP_SINK_MAILDIR", ".local/mail"))
    port = int(os.environ.get("ADUAN_SMTP_SINK_PORT", "8025"))
    controller = start(path, port)
    print(f"SMTP stand-in on 127.0.0.1:{port}, Maildir {path.resolve()}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
