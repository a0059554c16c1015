"""The city's corrections exported from the router's real database (its migrations, real PostgreSQL)."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import UTC, date, datetime

import asyncpg
import pytest

from services.router import reports
from services.router.application.casework import HANDED_BACK
from services.router.corrections import export, report
from services.router.http.back_office import NOT_A_COMPLAINT
from services.router.routing.rules import load_ruleset
from services.router.routing.second_opinion import SecondOpinion, corpus, decide, read_labelled

pytestmark = pytest.mark.postgres


async def complaint(conn: asyncpg.Connection, text: str, status: str, units: list[tuple[str, str, str | None]],
                    outcome: str | None = None) -> None:
    """A complaint and its assignments (unit, rule or person, reason), as the router stores them."""
    complaint_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO router.complaints (complaint_id, tracking_code, channel, channel_message_id, text, anonymity,
                                          reporter, category, received_at, correlation_id, status)
           VALUES ($1, $2, 'sms', $3, $4, 'rahasia', '{"phone": "+6281234567890"}', NULL, $5, $3, $6)""",
        complaint_id, uuid.uuid4().hex[:10], str(complaint_id), text, datetime(2026, 11, 20, tzinfo=UTC), status)
    for sequence, (unit, by, reason) in enumerate(units, 1):
        await conn.execute(
            """INSERT INTO router.assignments (assignment_id, complaint_id, sequence, unit_code, rule_id,
                                               ruleset_version, matched_terms, is_fallback, event, assigned_by, reason)
               VALUES ($1, $2, $3, $4, $5, 'v1', '{}', $6, '{}', $7, $8)""",
            uuid.uuid4(), complaint_id, sequence, unit, by if sequence == 1 else "manual",
            unit == "diskominfo" and sequence == 1, by, reason)
    if outcome is not None:
        await conn.execute(
            """INSERT INTO router.status_changes (change_id, complaint_id, sequence, status, actor,
                                                  assignment_sequence, event)
               VALUES ($1, $2, 1, 'done', 'ppid', $3, $4)""",
            uuid.uuid4(), complaint_id, len(units), json.dumps({"message": outcome}))


async def test_settled_complaints_are_exported_with_where_they_ended_and_how(own_database_url, tmp_path):
    conn = await asyncpg.connect(own_database_url)
    try:
        await complaint(conn, "pajak reklame naik", "acknowledged", [("bppkad", "bppkad-pajak-daerah", None)])
        await complaint(conn, "kantor kosong semua ngopi", "responded",
                        [("diskominfo", "fallback", None), ("inspektorat", "ppid.sari", "disiplin pegawai")])
        await complaint(conn, "perwali parkir", "done", [("bppkad", "bppkad-pajak-daerah", None),
                                                          ("diskominfo", "bppkad", f"{HANDED_BACK}bukan pajak"),
                                                          ("hukum", "ppid.sari", "produk hukum")])
        await complaint(conn, "jual pulsa murah", "done", [("diskominfo", "fallback", None)],
                        outcome=f"{NOT_A_COMPLAINT}iklan")
        await complaint(conn, "belum diterima unit", "assigned", [("prokopim", "prokopim-undangan", None)])
    finally:
        await conn.close()

    out = tmp_path / "corrections.jsonl"
    assert await export(own_database_url, out, date(2026, 1, 1), "diskominfo") == 4
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    cases = {c["text"]: c for c in map(json.loads, out.read_text().splitlines())}
    assert set(cases) == {"pajak reklame naik", "kantor kosong semua ngopi", "perwali parkir", "jual pulsa murah"}
    assert {t: (c["expected_unit"], c["correction"]) for t, c in cases.items()} == {
        "pajak reklame naik": ("bppkad", "confirmed"), "kantor kosong semua ngopi": ("inspektorat", "reassigned"),
        "perwali parkir": ("hukum", "handed back"), "jual pulsa murah": ("diskominfo", "not a complaint")}
    assert cases["jual pulsa murah"]["expected_fallback"] is True
    assert cases["perwali parkir"]["first_rule"] == "bppkad-pajak-daerah"
    assert "6281234567890" not in out.read_text()  # texts, never the reporter
    assert await export(own_database_url, out, date(2026, 12, 1), "diskominfo") == 0  # --since


async def test_a_merged_complaint_counts_once_in_the_reports(own_database_url):
    conn = await asyncpg.connect(own_database_url)
    try:
        kominfo = [("diskominfo", "diskominfo-layanan-digital", None)]
        await complaint(conn, "wifi balai mati", "responded", kominfo)
        await complaint(conn, "hotspot balai gk bisa", "responded", kominfo)
        await conn.execute("SET search_path TO router")
        before = await reports.fetch_rows(conn, date(2026, 11, 1), date(2026, 11, 30))
        await conn.execute("""UPDATE complaints SET merged_into = (SELECT complaint_id FROM complaints
                                                                  WHERE text = 'wifi balai mati')
                              WHERE text = 'hotspot balai gk bisa'""")
        after = await reports.fetch_rows(conn, date(2026, 11, 1), date(2026, 11, 30))
    finally:
        await conn.close()
    assert (len(before), len(after)) == (2, 1)


async def test_the_loop_on_a_replayed_history_the_city_teaches_the_router_a_new_tax_name(own_database_url, tmp_path):
    """PBJT and NPWPD (the 2024 names of the restaurant/hotel/entertainment taxes and the local taxpayer number)
    are in no rule and no labelled example: such complaints fall back. The PPID secretariat sends six to BPPKAD;
    exported and learnt, the next ones go to BPPKAD, and the report proposes the two words for the rules."""
    history = ["SURGA NPWPD warung bakso sy blm jadi2 pdhl udh daftar sebulan",
               "nomor NPWPD usaha laundry saya hilang, bagaimana mencetak ulang",
               "PBJT jasa hiburan untuk konser amal di lapangan apakah tetap ditarik",
               "SURGA PBJT kafe sy dihitung dr omzet kotor apa bersih",
               "mohon penjelasan PBJT atas jasa kesenian untuk pagelaran wayang",
               "NPWPD atas nama almarhum bapak mau dinonaktifkan caranya gimana"]
    conn = await asyncpg.connect(own_database_url)
    try:
        for text in history:
            await complaint(conn, text, "acknowledged",
                            [("diskominfo", "fallback", None), ("bppkad", "ppid.sari", "pajak daerah")])
    finally:
        await conn.close()
    out = tmp_path / "corrections.jsonl"
    assert await export(own_database_url, out, date(2026, 1, 1), "diskominfo") == len(history)

    rules, learnt = load_ruleset(), read_labelled(out)
    shipped, taught = SecondOpinion(corpus()), SecondOpinion(corpus() + learnt)
    for text in ["PBJT jasa kesenian dan hiburan utk pentas seni di kampung apa kena?",
                 "NPWPD usaha katering saya belum terbit padahal sudah daftar"]:
        assert decide(rules, shipped, text, "web", None).is_fallback
        taken = decide(rules, taught, text, "web", None)
        assert (taken.unit.code, taken.rule_id) == ("bppkad", f"model:{taught.version}")
    proposals = next(line for line in report(rules, learnt).splitlines() if line.strip().startswith("bppkad:"))
    assert "npwpd" in proposals and "pbjt" in proposals
