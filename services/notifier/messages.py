"""Indonesian messages rendered from the template files in templates/."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shared.contracts import ComplaintAssigned

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,  # a missing field is a bug to see, not an empty line
    keep_trailing_newline=True,
    autoescape=False,  # plain-text e-mail
)
CHANNEL_NAMES = {"web": "Situs web", "sms": "SMS", "whatsapp": "WhatsApp"}


def unit_assignment_email(assigned: ComplaintAssigned, *, mail_from: str, message_id: str) -> EmailMessage:
    context = {"a": assigned, "channel_names": CHANNEL_NAMES}
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = str(assigned.unit.email)
    message["Subject"] = _templates.get_template("unit_assignment.subject.j2").render(context).strip()
    # Deterministic: if a crash makes us send again, mail clients can tell it is the same message.
    message["Message-ID"] = message_id
    message["X-Aduan-Complaint-Id"] = assigned.complaint_id
    message["X-Aduan-Assignment-Id"] = assigned.assignment_id
    message.set_content(_templates.get_template("unit_assignment.txt.j2").render(context))
    return message
