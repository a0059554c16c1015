"""PostgreSQL access: a pool per service and per-service schema migrations.

Each service owns one schema and a folder of numbered `.sql` files. Migrations run at
start-up under an advisory lock, so replicas starting together apply each file once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

from shared.settings import DatabaseSettings

if TYPE_CHECKING:
    # A connection of one's own or one lent by a pool: both run queries and transactions.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]


async def create_pool(settings: DatabaseSettings, schema: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        settings.url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        server_settings={"search_path": schema, "application_name": f"aduan-{schema}"},
        reset=keep_session,
    )


async def keep_session(_connection: asyncpg.Connection) -> None:
    """A connection goes back to the pool without asyncpg's reset query (RESET ALL, UNLISTEN, unlock all):
    our code leaves no session state (SET LOCAL, transaction-scoped advisory locks only), and the query was
    a round trip per acquire, 5-7 % of the delivering services' CPU. asyncpg still rolls back an open
    transaction before calling this."""


async def migrate(pool: asyncpg.Pool, schema: str, *migrations_dirs: Path, role: str | None = None) -> list[str]:
    """Apply the schema's migrations not applied yet, in file-name order. Returns their names.

    Several folders may contribute (a service's own, and shared ones such as the jobs table);
    file names must be unique across them. `role`: act as it (the schema's owner), so what is made is its
    (services/migrate.py, run by the database owner); a service connected as its own role needs none.
    """
    files = sorted((path for folder in migrations_dirs for path in folder.glob("*.sql")), key=lambda p: p.name)
    applied_now = []
    async with pool.acquire() as conn, conn.transaction():
        if role:
            await conn.execute(f'SET LOCAL ROLE "{role}"')
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        # Asked only when missing: PostgreSQL checks the right to create schemas even with IF NOT EXISTS, and a
        # service's own role has none (its schema was made for it, services/migrate.py).
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch(f'SELECT name FROM "{schema}".schema_migrations')}
        for path in files:
            if path.name in done:
                continue
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            await conn.execute(path.read_text())
            await conn.execute(f'INSERT INTO "{schema}".schema_migrations (name) VALUES ($1)', path.name)
            applied_now.append(path.name)
    return applied_now
