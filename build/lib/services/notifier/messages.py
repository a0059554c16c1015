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
    autoescape=False,  # plain-text e-mail and SMS
)
CHANNEL_NAMES = {"web": "Situs web", "sms": "SMS", "whatsapp": "WhatsApp"}


def _render(name: str, **context: object) -> str:
    return _templates.get_template(name).render(channel_names=CHANNEL_NAMES, **context)


def status_link(base_url: str, tracking_code: str) -> str:
    return f"{base_url.rstrip('/')}/status?kode={tracking_code}"


def _email(to: str, subject: str, body: str, mail_from: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = subject.strip()
    # Deterministic: if a crash makes us send again, mail clients can tell it is the same message.
    message["Message-ID"] = message_id
    message.set_content(body)
    return message


def unit_assignment_email(assigned: ComplaintAssigned, *, mail_from: str, message_id: str,
                          link: str) -> EmailMessage:
    """What the unit reads. `reporter_for_unit` is already empty for anonim and rahasia reporters."""
    context = {"a": assigned, "link": link}
    message = _email(str(assigned.unit.email), _render("unit_assignment.subject.j2", **context),
                     _render("unit_assignment.txt.j2", **context), mail_from, message_id)
    message["X-Aduan-Complaint-Id"] = assigned.complaint_id
    message["X-Aduan-Assignment-Id"] = assigned.assignment_id
    return message


def citizen_ack_text(assigned: ComplaintAssigned, link: str) -> str:
    """Short enough for SMS: the tracking code comes first."""
    return _render("citizen_ack.txt.j2", a=assigned, link=link).strip()


def citizen_ack_email(assigned: ComplaintAssigned, *, to: str, mail_from: str, message_id: str,
                      link: str) -> EmailMessage:
    context = {"a": assigned, "link": link}
    message = _email(to, _render("citizen_ack_email.subject.j2", **context),
                     _render("citizen_ack_email.txt.j2", **context), mail_from, message_id)
    message["X-Aduan-Complaint-Id"] = assigned.complaint_id
    return message


def unit_webhook_payload(assigned: ComplaintAssigned) -> dict:
    """The event as a unit's system receives it: never the citizen's contact."""
    return assigned.model_dump(mode="json", exclude={"citizen_contact"})
