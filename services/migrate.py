"""Database roles and migrations for every service: `python -m services.migrate` (the Kubernetes migration Job).

Each service connects as its own PostgreSQL role, `aduan_<schema>`, which owns its schema and nothing else:
the web intake (on the internet) cannot read the router's complaints, lapor_sync cannot read the notifier's
jobs. This command, run with the database owner's URL, creates the roles that are missing (LOGIN, with the
passwords in ADUAN_DB_ROLE_PASSWORDS, JSON by schema; a role without one cannot log in), hands each schema and
what is in it to its role, and applies each schema's migrations as that role. Services also migrate their own
schema at start-up (under an advisory lock); running this first lets a release fail on a bad migration before
any pod of it starts.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import asyncpg

from shared.database import create_pool, migrate
from shared.jobs import MIGRATIONS as JOBS
from shared.settings import DatabaseSettings

SERVICES = Path(__file__).parent
SCHEMAS: dict[str, tuple[Path, ...]] = {
    "router": (SERVICES / "router" / "migrations",),
    "notifier": (SERVICES / "notifier" / "migrations", JOBS),
    "lapor_sync": (SERVICES / "lapor_sync" / "migrations", JOBS),
    "web": (SERVICES / "intake" / "web" / "migrations",),
    "intake_sms": (SERVICES / "intake" / "sms" / "migrations",),
}
# Relations whose owner changes with their table (a serial's sequence, an index) are left to it.
_OWNED_BY_OTHERS = """SELECT format('ALTER %s %I.%I OWNER TO %I',
                             CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                            WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                             n.nspname, c.relname, $2::text)
                      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = $1::text AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
                        AND pg_get_userbyid(c.relowner) <> $2::text
                        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                        AND d.objid = c.oid AND d.deptype IN ('a', 'i'))"""


def role_for(schema: str) -> str:
    return f"aduan_{schema}"


async def ensure_role(conn: asyncpg.Connection, schema: str, password: str | None) -> None:
    """The schema's role exists, may log in with `password` (if given), and owns the schema and its content."""
    role = role_for(schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('aduan-roles'))")
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            await conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        if password:
            await conn.execute(await conn.fetchval(
                "SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", role, password))
        # The owner (who runs this) acts as the role, to hand it objects and to migrate as it. In production
        # the database operator makes the owner a member (CloudNativePG's managed roles, `inRoles`).
        if not await conn.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", role):
            await conn.execute(f'GRANT "{role}" TO CURRENT_USER')
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{role}"')
        await conn.execute(f'ALTER SCHEMA "{schema}" OWNER TO "{role}"')
        for statement in await conn.fetch(_OWNED_BY_OTHERS, schema, role):
            await conn.execute(statement[0])


async def migrate_all(settings: DatabaseSettings, passwords: dict[str, str]) -> dict[str, list[str]]:
    applied = {}
    conn = await asyncpg.connect(settings.url)
    try:
        for schema in SCHEMAS:
            await ensure_role(conn, schema, passwords.get(schema))
    finally:
        await conn.close()
    for schema, folders in SCHEMAS.items():
        pool = await create_pool(settings, schema)
        try:
            applied[schema] = await migrate(pool, schema, *folders, role=role_for(schema))
        finally:
            await pool.close()
    return applied


if __name__ == "__main__":
    passwords = json.loads(os.environ.get("ADUAN_DB_ROLE_PASSWORDS") or "{}")
    for schema, names in asyncio.run(migrate_all(DatabaseSettings(), passwords)).items():
        print(f"{schema}: {', '.join(names) if names else 'up to date'} (role {role_for(schema)})")
