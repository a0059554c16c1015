from __future__ import annotations

import json
import logging

import structlog

from shared.logging import configure_logging, mask_text


def test_phone_numbers_and_emails_in_free_text_are_masked():
    masked = mask_text("hubungi 0812-3456-7890 atau +6285755501234, email budi.santoso@example.id")
    assert "3456-7890" not in masked and "55501234" not in masked
    assert "budi.santoso" not in masked and "@example.id" in masked


def test_identifiers_are_not_mistaken_for_phone_numbers():
    assert mask_text("LAPOR-STANDIN-0000001") == "LAPOR-STANDIN-0000001"


def test_log_lines_are_json_with_personal_fields_masked(capsys):
    configure_logging("test", "INFO")
    structlog.get_logger("t").info("complaint_published", name="Budi Santoso", phone="+6281234567890",
                                   email="budi@example.id", reporter={"name": "Budi"},
                                   complaint_id="0812345678901")
    logging.getLogger("library").warning("sender 081234567890 failed")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ours, library = lines[-2], lines[-1]
    assert ours["name"] == "B***" and ours["reporter"] == "***"
    assert "1234567" not in ours["phone"] and ours["email"].startswith("b***@")
    assert ours["complaint_id"] == "0812345678901"  # identifiers stay readable
    assert ours["service"] == "test" and ours["level"] == "info"
    assert "081234567890" not in library["event"]


def test_whatsapp_user_ids_and_usernames_are_masked(capsys):
    """A BSUID or username identifies a citizen as a number does (docs/whatsapp.md)."""
    assert "13491208655302741918" not in mask_text('Cloud API: {"recipient": "ID.13491208655302741918"} refused')
    assert "11815799212886844830" not in mask_text("parent ID.ENT.11815799212886844830")
    assert mask_text("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB") == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB"
    configure_logging("test", "INFO")
    structlog.get_logger("t").info("sent", user_id="ID.13491208655302741918", username="@rina.kdr",
                                   recipient="ID.13491208655302741918", message_id="wamid.ABC123456789")
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert "13491208655302741918" not in json.dumps(line) and "rina.kdr" not in json.dumps(line)
    assert line["message_id"] == "wamid.ABC123456789"
