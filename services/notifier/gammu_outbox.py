"""SMS through Gammu SMSD: rows in its `outbox` (and `outbox_multipart`) tables, which it sends.

What Gammu SMSD 1.42 does with them (seen with the real daemon; docs/sms-gateways.md):
- it sends what it is given and never splits: a 400-character row goes out cut to 160, so a long
  text is written as parts, the first in `outbox` with MultiPart and a concatenation UDH
  (05 00 03 <ref> <total> <seq>), the others in `outbox_multipart`, all in one transaction (a part
  inserted later is orphaned: Gammu sends what it finds);
- it sends the coding it is told: 😡 in a Default_No_Compression row goes out as "??";
- it copies CreatorID into every `sentitems` row of the message: our reference, so a delivery
  run again after a crash finds its SMS already queued or sent and queues nothing;
- SendingDateTime defaults to the inserting session's local time, which Gammu compares with its
  own session's: this connection keeps the server's default time zone, as gammu-smsd does.
"""

from __future__ import annotations

import hashlib

import asyncpg

from services.notifier.sms_text import SmsText

CODING = {False: "Default_No_Compression", True: "Unicode_No_Compression"}
MAX_CREATOR_ID = 199  # Gammu truncates longer ones, and then it would not find them again


class GammuOutbox:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.pool: asyncpg.Pool | None = None

    async def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            self.pool = await asyncpg.create_pool(self.database_url, min_size=0, max_size=2)
        return self.pool

    async def close(self) -> None:
        if self.pool:
            await self.pool.close()

    async def send(self, to: str, text: str, reference: str) -> None:
        """Queue the SMS for gammu-smsd, once per reference. Database errors propagate (the job retries)."""
        creator = reference if len(reference) <= MAX_CREATOR_ID else hashlib.sha256(reference.encode()).hexdigest()
        sms = SmsText.of(text)
        parts, coding = sms.parts(), CODING[sms.unicode]
        pool = await self._pool()
        async with pool.acquire() as conn, conn.transaction():
            # One job runs at a time per reference (shared/jobs.py leases), so look-then-insert is enough.
            if await conn.fetchval(
                    'SELECT EXISTS (SELECT 1 FROM outbox WHERE "CreatorID" = $1)'
                    ' OR EXISTS (SELECT 1 FROM sentitems WHERE "CreatorID" = $1)', creator):
                return
            if len(parts) == 1:
                await conn.execute(
                    'INSERT INTO outbox ("DestinationNumber", "TextDecoded", "Coding", "CreatorID")'
                    ' VALUES ($1, $2, $3, $4)', to, text, coding, creator)
                return
            # The concatenation reference tells this message's parts from another's on the phone.
            ref = hashlib.sha256(creator.encode()).digest()[0]
            udh = [f"050003{ref:02X}{len(parts):02X}{seq:02X}" for seq in range(1, len(parts) + 1)]
            message_id = await conn.fetchval(
                'INSERT INTO outbox ("DestinationNumber", "TextDecoded", "Coding", "CreatorID", "UDH", "MultiPart")'
                ' VALUES ($1, $2, $3, $4, $5, true) RETURNING "ID"', to, parts[0], coding, creator, udh[0])
            await conn.executemany(
                'INSERT INTO outbox_multipart ("ID", "SequencePosition", "TextDecoded", "Coding", "UDH")'
                ' VALUES ($1, $2, $3, $4, $5)',
                [(message_id, seq, part, coding, udh[seq - 1]) for seq, part in enumerate(parts[1:], start=2)])
