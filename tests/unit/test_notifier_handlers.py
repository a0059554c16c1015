"""The notifier's decisions and deliveries (services/notifier/app.py `Notifier`) with fakes: which jobs an
event makes, and what a job sends to whom. SMTP, gateways and Kafka are the integration suite's
(tests/integration/test_notifier.py)."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

import pytest

from services.notifier.app import Notifier
from services.notifier.citizens import ChannelWay, Citizens, EmailWay
from services.notifier.settings import NotifierSettings
from shared.contracts import Anonymity, Attachment, ComplaintStatus, Reporter
from shared.jobs import Job, NewJob, PermanentFailure
from shared.units import LiveRegistry
from tests.support.events import assigned, assignment_for, received, status_changed
from tests.support.units import registry_file


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


class FakeWayBack:
    """A channel's way back that records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def address(self, contact: Reporter) -> str | None:
        return contact.phone

    async def send(self, to: str, text: str, reference: str) -> dict[str, Any]:
        self.sent.append((to, text, reference))
        return {"message_id": f"m{len(self.sent)}"}

    async def close(self) -> None:
        pass


@pytest.fixture
def parts(tmp_path):
    settings = NotifierSettings(kannel_password="k", whatsapp_token="t")
    mailer, telegram = FakeMailer(), FakeWayBack()
    citizens = Citizens({"web": EmailWay(mailer, settings.mail_from, settings.mail_domain),  # type: ignore[arg-type]
                         "telegram": ChannelWay(telegram)})
    units = LiveRegistry(registry_file(tmp_path, bppkad={"webhook_url": "https://bppkad.example/hook"}))
    notifier = Notifier(settings, units, mailer, outbound=None, citizens=citizens, media=None)  # type: ignore[arg-type]
    return notifier, mailer, telegram


def job(new: NewJob) -> Job:
    return Job(1, new.job_key, new.kind, new.complaint_id, json.loads(new.payload), "t", 1)


def kinds(jobs: list[NewJob]) -> list[str]:
    return sorted(j.kind for j in jobs)


def test_a_first_assignment_tells_the_unit_and_the_citizen(parts):
    notifier, _, _ = parts
    event = assigned()
    assert kinds(notifier.jobs_for_assignment(event)) == ["citizen_ack", "unit_email"]
    # A reassignment tells the new unit only: the citizen heard once.
    again = event.model_copy(update={"sequence": 2})
    assert kinds(notifier.jobs_for_assignment(again)) == ["unit_email"]


def test_each_whatsapp_media_of_a_first_assignment_is_a_job_to_keep_it_once(parts):
    notifier, _, _ = parts
    photo = Attachment(kind="image", reference="whatsapp-media:1234567890", mime_type="image/jpeg")
    web_photo = Attachment(kind="image", reference="evidence:complaints/x/y", mime_type="image/jpeg")
    event = assigned().model_copy(update={"attachments": [photo, web_photo]})
    jobs = [j for j in notifier.jobs_for_assignment(event) if j.kind == "whatsapp_media"]
    assert [(j.job_key, json.loads(j.payload)) for j in jobs] == [
        (f"whatsapp_media:{event.complaint_id}:1234567890", {"complaint_id": event.complaint_id,
                                                             "media_id": "1234567890"})]
    assert not [j for j in notifier.jobs_for_assignment(event.model_copy(update={"sequence": 2}))
                if j.kind == "whatsapp_media"]


def test_a_unit_with_a_webhook_gets_it_too(parts):
    notifier, _, _ = parts
    event = assigned("Pajak bumi dan bangunan saya salah hitung, tagihan PBB naik tiga kali lipat")
    assert event.unit.code == "bppkad"
    assert kinds(notifier.jobs_for_assignment(event)) == ["citizen_ack", "unit_email", "unit_webhook"]


def test_a_citizen_with_no_address_on_their_channel_gets_no_job(parts):
    notifier, _, _ = parts
    event = assigned(reporter=Reporter(name="Tanpa Surel", phone="+6281234567890"))  # web, but no e-mail
    assert kinds(notifier.jobs_for_assignment(event)) == ["unit_email"]


def test_the_citizen_hears_only_answers_and_the_end(parts):
    notifier, _, _ = parts
    event = assigned()
    told = {status: kinds(notifier.jobs_for_status(status_changed(event, status))) for status in ComplaintStatus}
    assert {s for s, k in told.items() if k == ["citizen_status"]} == {
        ComplaintStatus.RESPONDED, ComplaintStatus.DONE, ComplaintStatus.CLOSED}
    assert told[ComplaintStatus.REPLIED] == ["unit_reply_email"]


async def test_the_acknowledgement_goes_by_the_way_back_of_the_citizens_channel(parts):
    notifier, mailer, telegram = parts
    event = assignment_for(received(channel="telegram", reporter=Reporter(phone="+6285712345678")))
    [ack] = [j for j in notifier.jobs_for_assignment(event) if j.kind == "citizen_ack"]
    result = await notifier.citizen_ack(job(ack))
    [(to, text, reference)] = telegram.sent
    assert (to, reference) == ("+6285712345678", ack.job_key)
    assert event.tracking_code in text
    assert result == {"channel": "telegram", "message_id": "m1"}
    assert mailer.sent == []


async def test_a_web_citizen_is_acknowledged_by_mail_and_an_anonymous_one_still_hears(parts):
    notifier, mailer, _ = parts
    event = assigned(anonymity=Anonymity.RAHASIA)
    [ack] = [j for j in notifier.jobs_for_assignment(event) if j.kind == "citizen_ack"]
    await notifier.citizen_ack(job(ack))
    [mail] = mailer.sent
    assert mail["To"] == "siti@example.id" and event.tracking_code in mail.get_content()
    # The unit's mail for the same complaint carries no trace of the reporter.
    [unit] = [j for j in notifier.jobs_for_assignment(event) if j.kind == "unit_email"]
    await notifier.unit_email(job(unit))
    unit_mail = mailer.sent[-1]
    assert "Siti" not in unit_mail.as_string() and "siti@example.id" not in unit_mail.as_string()


async def test_a_channel_without_a_way_back_is_a_dead_letter_with_the_reason(parts):
    notifier, _, _ = parts
    event = assignment_for(received(channel="merpati", reporter=Reporter(phone="+6285712345678")))
    assert kinds(notifier.jobs_for_assignment(event)) == ["unit_email"]  # no job for a citizen out of reach
    ack = NewJob(f"citizen_ack:{event.complaint_id}", "citizen_ack", event.complaint_id, event.model_dump_json())
    with pytest.raises(PermanentFailure, match="no way to reach the citizen on channel merpati"):
        await notifier.citizen_ack(job(ack))


async def test_an_event_for_a_unit_the_registry_does_not_know_sends_nothing(parts):
    notifier, mailer, _ = parts
    event = assigned()
    forged = event.model_copy(update={"unit": event.unit.model_copy(update={"code": "bukan-unit"})})
    [unit] = [j for j in notifier.jobs_for_assignment(forged) if j.kind == "unit_email"]
    with pytest.raises(PermanentFailure, match="not in the units registry"):
        await notifier.unit_email(job(unit))
    assert mailer.sent == []
