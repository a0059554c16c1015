"""Indonesian messages rendered from the template files in templates/."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shared.contracts import (
    ComplaintAssigned,
    ComplaintEscalated,
    ComplaintStatusChanged,
    EscalationStage,
)
from shared.statuses import CITIZEN_STATUS

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,  # a missing field is a bug to see, not an empty line
    keep_trailing_newline=True,
    autoescape=False,  # plain-text e-mail and SMS
)
CHANNEL_NAMES = {"web": "Situs web", "sms": "SMS", "whatsapp": "WhatsApp"}
STAGE_WORDS = {EscalationStage.FORWARD: "penerusan/konfirmasi", EscalationStage.FOLLOW_UP: "tindak lanjut",
               EscalationStage.REPLY: "tanggapan atas balasan pelapor"}
SMS_MESSAGE_LIMIT = 300  # about two SMS parts of the unit's message
WHATSAPP_PARAMETER_LIMIT = 700  # a template body is at most 1,024 characters, its fixed text included


def _render(name: str, **context: object) -> str:
    return _templates.get_template(name).render(channel_names=CHANNEL_NAMES, **context)


def message_id(kind: str, key: str, domain: str) -> str:
    """Deterministic: if a crash makes us send again, mail clients can tell it is the same message."""
    return f"<{key}.{kind}@{domain}>"


def status_link(base_url: str, tracking_code: str) -> str:
    return f"{base_url.rstrip('/')}/status?kode={tracking_code}"


def _email(to: str, subject: str, body: str, mail_from: str, message_id: str,
           cc: list[str] | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject.strip()
    # Deterministic: if a crash makes us send again, mail clients can tell it is the same message.
    message["Message-ID"] = message_id
    message.set_content(body)
    return message


def unit_assignment_email(assigned: ComplaintAssigned, *, mail_from: str, message_id: str,
                          link: str, inbox_link: str | None = None) -> EmailMessage:
    """What the unit reads. `reporter_for_unit` is already empty for anonim and rahasia reporters."""
    context = {"a": assigned, "link": link, "inbox_link": inbox_link}
    message = _email(str(assigned.unit.email), _render("unit_assignment.subject.j2", **context),
                     _render("unit_assignment.txt.j2", **context), mail_from, message_id)
    message["X-Aduan-Complaint-Id"] = assigned.complaint_id
    message["X-Aduan-Assignment-Id"] = assigned.assignment_id
    return message


def unit_reply_email(change: ComplaintStatusChanged, *, mail_from: str, message_id: str, link: str,
                     inbox_link: str | None = None) -> EmailMessage:
    """The citizen wrote back: the unit reads the reply (the citizen's own words; no contact details)."""
    context = {"s": change, "link": link, "inbox_link": inbox_link}
    message = _email(str(change.unit.email), _render("unit_reply.subject.j2", **context),
                     _render("unit_reply.txt.j2", **context), mail_from, message_id)
    message["X-Aduan-Complaint-Id"] = change.complaint_id
    message["X-Aduan-Change-Id"] = change.change_id
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


def _one_line(text: str | None, limit: int) -> str | None:
    """The unit's message for a phone: one line, cut short (SMS parts and template parameters are small)."""
    if not text:
        return None
    line = " ".join(text.split())
    # Three dots, not an ellipsis: GSM-7 has none, and one character outside it makes the whole SMS UCS-2.
    return line if len(line) <= limit else line[:limit - 3] + "..."


def citizen_status_text(change: ComplaintStatusChanged, link: str) -> str:
    """For SMS."""
    return _render("citizen_status.txt.j2", s=change, status=CITIZEN_STATUS[change.status], link=link,
                   message=_one_line(change.message, SMS_MESSAGE_LIMIT)).strip()


def citizen_status_template_parameters(change: ComplaintStatusChanged) -> list[str]:
    """The approved status template's parameters: code, status, the unit's message, the closing day.

    Meta refuses line breaks and runs of spaces in a parameter.
    """
    close_due = change.close_due.strftime("%d-%m-%Y") if change.close_due else "-"
    return [change.tracking_code, CITIZEN_STATUS[change.status],
            _one_line(change.message, WHATSAPP_PARAMETER_LIMIT) or "-", close_due]


def citizen_status_email(change: ComplaintStatusChanged, *, to: str, mail_from: str, message_id: str,
                         thread_id: str, link: str) -> EmailMessage:
    context = {"s": change, "status": CITIZEN_STATUS[change.status], "link": link}
    message = _email(to, _render("citizen_status_email.subject.j2", **context),
                     _render("citizen_status_email.txt.j2", **context), mail_from, message_id)
    # In the same thread as the acknowledgement, in the citizen's mail client.
    message["In-Reply-To"] = thread_id
    message["References"] = thread_id
    message["X-Aduan-Complaint-Id"] = change.complaint_id
    message["X-Aduan-Change-Id"] = change.change_id
    return message


def escalation_email(escalated: ComplaintEscalated, *, to: str, cc: list[str], mail_from: str, message_id: str,
                     link: str) -> EmailMessage:
    """For the unit's head and the PPID coordinator. The event carries no reporter identity, nor does this."""
    context = {"e": escalated, "stage": STAGE_WORDS[escalated.stage], "link": link}
    message = _email(to, _render("escalation.subject.j2", **context), _render("escalation.txt.j2", **context),
                     mail_from, message_id, cc=cc)
    message["X-Aduan-Complaint-Id"] = escalated.complaint_id
    message["X-Aduan-Escalation-Id"] = escalated.escalation_id
    return message


def unit_webhook_payload(assigned: ComplaintAssigned) -> dict:
    """The event as a unit's system receives it: never the citizen's contact."""
    return assigned.model_dump(mode="json", exclude={"citizen_contact", "sealed_contact"})
