"""Apply every service's database migrations: `python -m services.migrate` (the Kubernetes migration Job).

Services also migrate their own schema at start-up (under an advisory lock); running this
first lets a release fail on a bad migration before any pod of it starts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

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


async def migrate_all(settings: DatabaseSettings) -> dict[str, list[str]]:
    applied = {}
    for schema, folders in SCHEMAS.items():
        pool = await create_pool(settings, schema)
        try:
            applied[schema] = await migrate(pool, schema, *folders)
        finally:
            await pool.close()
    return applied


if __name__ == "__main__":
    for schema, names in asyncio.run(migrate_all(DatabaseSettings())).items():
        print(f"{schema}: {', '.join(names) if names else 'up to date'}")
