"""Sessions of the unit inbox and of the PPID back-office, in the router's database, so that they can be
ended: signing out ends the session (not just the cookie), a changed password ends every session opened
with the old one, and an administrator can end all of a unit's or an operator's:

    python -m services.router.http.inbox_sessions revoke <unit code>
    python -m services.router.http.inbox_sessions revoke --operator <operator name>

Each kind of session has its realm ("unit", "operator"): a session id is found only in its own.

E-mail links open one complaint once; sign-in is locked for a while after repeated failures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from shared.database import create_pool
from shared.settings import DatabaseSettings

LINK_CREDENTIAL = "link"
UNITS, OPERATORS = "unit", "operator"  # the realms
LOCKOUT_FAILURES = 5  # failed sign-ins for one unit within LOCKOUT_MINUTES lock it
LOCKOUT_MINUTES = 15


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    unit: str  # the unit's code, or in the operator realm the operator's name
    scope: str | None  # the one complaint a link session may see; None: the whole inbox
    credential: str

    @property
    def name(self) -> str:
        """Who holds the session: the operator's name (in the operator realm)."""
        return self.unit


class InboxSessions:
    def __init__(self, pool: asyncpg.Pool, realm: str = UNITS) -> None:
        self.pool, self.realm = pool, realm

    async def open(self, unit: str, scope: str | None, credential: str, hours: float) -> str:
        """A new session; the returned id goes in the cookie and nowhere else."""
        session_id = secrets.token_urlsafe(32)
        await self.pool.execute(
            """INSERT INTO inbox_sessions (session_digest, unit, scope, credential, expires_at, realm)
               VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)""",
            digest(session_id), unit, scope, credential, hours * 3600, self.realm)
        return session_id

    async def find(self, session_id: str) -> Session | None:
        if not session_id:
            return None
        row = await self.pool.fetchrow(
            """SELECT unit, scope, credential FROM inbox_sessions
               WHERE session_digest = $1 AND realm = $2 AND revoked_at IS NULL AND expires_at > now()""",
            digest(session_id), self.realm)
        return Session(row["unit"], row["scope"], row["credential"]) if row else None

    async def end(self, session_id: str) -> None:
        await self.pool.execute("UPDATE inbox_sessions SET revoked_at = now() WHERE session_digest = $1 "
                                "AND realm = $2 AND revoked_at IS NULL", digest(session_id), self.realm)

    async def end_all(self, unit: str) -> int:
        ended = await self.pool.fetch("UPDATE inbox_sessions SET revoked_at = now() WHERE unit = $1 "
                                      "AND realm = $2 AND revoked_at IS NULL RETURNING 1", unit, self.realm)
        return len(ended)

    async def use_link(self, token: str) -> bool:
        """True the first time this link is used, False ever after."""
        used = await self.pool.fetchval(
            "INSERT INTO inbox_link_uses (link_digest) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true",
            digest(token))
        return bool(used)

    async def locked(self, unit: str) -> bool:
        """Too many failed sign-ins for this unit lately. Per unit, not per address: behind the ingress every
        address is the ingress's. Someone could lock a unit out this way; its e-mail links still open."""
        failures = await self.pool.fetchval(
            """SELECT count(*) FROM inbox_sign_in_failures
               WHERE realm = $3 AND unit = $1 AND at > now() - make_interval(mins => $2)""",
            unit, LOCKOUT_MINUTES, self.realm)
        return failures >= LOCKOUT_FAILURES

    async def failed(self, unit: str) -> None:
        await self.pool.execute("INSERT INTO inbox_sign_in_failures (unit, realm) VALUES ($1, $2)", unit[:50],
                                self.realm)
        await self.pool.execute("DELETE FROM inbox_sign_in_failures WHERE at < now() - interval '1 day'")


async def _revoke(name: str, realm: str) -> int:
    pool = await create_pool(DatabaseSettings(), "router")
    try:
        return await InboxSessions(pool, realm).end_all(name)
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="End unit inbox or back-office sessions.")
    commands = parser.add_subparsers(dest="command", required=True)
    revoke = commands.add_parser("revoke", help="end every session of a unit (or, with --operator, an operator)")
    revoke.add_argument("name", help="the unit's code, or the operator's name")
    revoke.add_argument("--operator", action="store_true", help="an operator of the back-office, not a unit")
    args = parser.parse_args()
    realm = OPERATORS if args.operator else UNITS
    print(f"{asyncio.run(_revoke(args.name, realm))} session(s) of {realm} {args.name} ended")


if __name__ == "__main__":
    main()
