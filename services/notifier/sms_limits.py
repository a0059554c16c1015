"""What may leave as SMS: every SMS costs the city money and lands on a person's phone, so one forged or
repeated trigger must not become a flood (security review, issue 14).

- Only to the countries the city texts (Indonesia, +62): an SMS to +44 is never sent.
- At most `sms_per_recipient_per_hour` and `_per_day` to one number: past that, not sent (the job
  says why); the status page and the unit's e-mail still tell everything.
- At most `sms_overall_per_minute` in all: past that, deliveries wait (RetryLater), none is dropped.

Shared by every replica through the notifier's database; a retried delivery counts once.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import asyncpg

from services.notifier.settings import NotifierSettings
from shared.jobs import NotSent, RetryLater

PRUNE_CHANCE = 0.01  # one admission in a hundred also deletes rows older than a day


class SmsLimits:
    def __init__(self, settings: NotifierSettings, pool: Callable[[], asyncpg.Pool]) -> None:
        self.settings, self.pool = settings, pool

    async def admit(self, to: str, reference: str) -> None:
        """Returns when this SMS may go; NotSent when it must not, RetryLater when it must wait."""
        s = self.settings
        if not to.startswith(tuple(s.sms_country_prefixes)):
            raise NotSent("not a number in a country the city sends SMS to")
        recipient = hashlib.sha256(to.encode()).hexdigest()
        async with self.pool().acquire() as conn, conn.transaction():
            # One admission at a time, across replicas: the counts below must include every SMS let out before.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('aduan-sms-limits'))")
            if await conn.fetchval("SELECT true FROM sms_sends WHERE reference = $1", reference):
                return  # admitted before: a retry of the same delivery
            hour, day = await conn.fetchrow(
                """SELECT count(*) FILTER (WHERE sent_at > now() - interval '1 hour'), count(*)
                   FROM sms_sends WHERE recipient = $1 AND sent_at > now() - interval '1 day'""", recipient)
            if hour >= s.sms_per_recipient_per_hour or day >= s.sms_per_recipient_per_day:
                raise NotSent(f"over the limit of SMS to one number ({hour} this hour, {day} today)")
            overall = await conn.fetchval("SELECT count(*) FROM sms_sends WHERE sent_at > now() - interval '1 minute'")
            if overall >= s.sms_overall_per_minute:
                raise RetryLater(30, f"over the limit of {s.sms_overall_per_minute} SMS a minute")
            await conn.execute("INSERT INTO sms_sends (reference, recipient) VALUES ($1, $2)", reference, recipient)
            if random.random() < PRUNE_CHANCE:
                await conn.execute("DELETE FROM sms_sends WHERE sent_at < now() - interval '1 day'")
