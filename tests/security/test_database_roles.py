"""Security review, issue 14, item 7 (second part): one PostgreSQL role per service, owning its schema only.

Before: every service connected as the database owner, so the internet-facing web intake could read the
router's complaints (reporters included) and the notifier's jobs. The migration (services/migrate.py) now
gives each schema a role of its own; every database the tests make has them, and the services the tests
start connect as their role (tests/support/processes.py).
"""

from __future__ import annotations

import asyncpg
import pytest

from services.migrate import SCHEMAS, migrate_all, role_for
from shared.database import create_pool, migrate
from shared.settings import DatabaseSettings
from tests.conftest import fresh_database
from tests.support.processes import ROLE_PASSWORDS, as_role

pytestmark = [pytest.mark.postgres]


@pytest.mark.parametrize(("schema", "other_table"), [
    ("web", "router.complaints"), ("web", "notifier.jobs"), ("lapor_sync", "notifier.jobs"),
    ("notifier", "router.complaints"), ("intake_sms", "router.assignments"), ("router", "web.complaint_status")])
async def test_a_service_cannot_read_or_plant_in_another_services_schema(own_database_url, schema, other_table):
    conn = await asyncpg.connect(as_role(own_database_url, schema))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch(f"SELECT * FROM {other_table} LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"CREATE TABLE {other_table.split('.')[0]}.planted (x int)")
    finally:
        await conn.close()


async def test_each_service_owns_its_schema_and_migrates_it_at_start(own_database_url):
    await migrate_all(DatabaseSettings(url=own_database_url), ROLE_PASSWORDS)  # again: the next release's Job
    for schema, folders in SCHEMAS.items():
        pool = await create_pool(DatabaseSettings(url=as_role(own_database_url, schema)), schema)
        try:
            assert await migrate(pool, schema, *folders) == []  # the Job applied everything, as this role
            owners = await pool.fetch("SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c"
                                      " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1", schema)
            assert [r["owner"] for r in owners] == [role_for(schema)]
        finally:
            await pool.close()


async def test_a_database_from_before_roles_is_handed_to_them(infra):
    """Every table owned by the database owner, as the services left it before this release."""
    async with fresh_database(infra, "aduan_before", roles=False) as url:
        pool = await create_pool(DatabaseSettings(url=url), "router")
        try:
            await migrate(pool, "router", *SCHEMAS["router"])
            await pool.execute(
                "INSERT INTO router.complaints (complaint_id, tracking_code, channel, channel_message_id, text,"
                " anonymity, reporter, received_at, correlation_id)"
                " VALUES (gen_random_uuid(), 'AAAAA-BBBBB', 'web', 'x', 'teks', 'none', '{}', now(), 'c')")
        finally:
            await pool.close()
        await migrate_all(DatabaseSettings(url=url), ROLE_PASSWORDS)
        conn = await asyncpg.connect(as_role(url, "router"))
        try:
            assert await conn.fetchval("SELECT count(*) FROM router.complaints") == 1
            await conn.execute("ALTER TABLE router.complaints ADD COLUMN owned_now boolean")  # only its owner may
        finally:
            await conn.close()
