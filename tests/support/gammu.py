"""Debian's real Gammu SMSD (1.42, `dummy` phone driver) for the tests, run by deploy/local/gammu.sh.

The dummy driver keeps the modem's SIM as files: `inject` writes a received SMS there in the
driver's own format (Gammu's SMS backup file, one file per physical SMS, in `sms/1`, the SIM
inbox), split into concatenated parts with a UDH the way a phone splits it, and gammu-smsd itself
reads, joins and stores it into `inbox`. What gammu-smsd sent through the dummy modem is in
`sentitems` (one row per physical SMS, written from the very message it handed to the modem);
`sent` reads it back. Every wait is bounded and raises TimeoutError.

    gw = GammuGateway(infra.database_url, f"gammu_{uuid.uuid4().hex[:8]}", tmp_path)
    await gw.start()
    gw.inject("+6281234567890", "SURGA lampu jalan mati")
    [row] = await gw.wait_inbox(1)
    ...
    await gw.reset()  # stops it and drops its database
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "local" / "gammu.sh"

# GSM 03.38 default alphabet; the extension table's characters take two septets (ESC + char).
GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = set("^{}\\[~]|€\f")
_refs = itertools.count(0x41)


def is_gsm(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def septets(text: str) -> int:
    return sum(2 if c in GSM_EXTENDED else 1 for c in text)


def utf16_units(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def split_sms(text: str) -> tuple[str, list[str]]:
    """(Gammu coding name, physical SMS texts) as a phone splits it: GSM 7-bit 160 septets, or 153
    per part beside the 6-byte UDH; else UCS-2 70 UTF-16 units, or 67 per part; never splitting
    an escape or a surrogate pair."""
    if is_gsm(text):
        coding, size, single, per_part = "Default_No_Compression", septets, 160, 153
    else:
        coding, size, single, per_part = "Unicode_No_Compression", utf16_units, 70, 67
    if size(text) <= single:
        return coding, [text]
    parts, current = [], ""
    for c in text:
        if size(current + c) > per_part:
            parts.append(current)
            current = ""
        current += c
    return coding, parts + [current]


def parse_udh(udh: str) -> tuple[int, int, int] | None:
    """(reference, total, sequence) of a concatenation UDH in hex (8- or 16-bit reference)."""
    data = bytes.fromhex(udh or "")
    i = 1
    while i + 1 < len(data):
        iei, length, value = data[i], data[i + 1], data[i + 2:i + 2 + data[i + 1]]
        if iei == 0x00 and length == 3:
            return value[0], value[1], value[2]
        if iei == 0x08 and length == 4:
            return int.from_bytes(value[:2], "big"), value[2], value[3]
        i += 2 + length
    return None


@dataclass(frozen=True)
class SentPart:
    sequence: int  # sentitems.SequencePosition
    text: str  # this physical SMS's text (sentitems.TextDecoded)
    coding: str  # 'Default_No_Compression' (GSM 7-bit) or 'Unicode_No_Compression' (UCS-2)
    udh: str  # hex, '' for none
    status: str  # 'SendingOKNoReport', 'SendingOK', 'SendingError', 'Error'

    @property
    def fits(self) -> bool:
        """Whether the modem transmits this part as written. gammu-smsd 1.42 does not split: it cuts
        a part to 160 septets / 70 UTF-16 units whatever room its UDH takes, and sends characters
        outside the GSM alphabet as '?' in a Default_No_Compression part; sentitems still shows
        the whole, original text with Status 'SendingOKNoReport'."""
        udh = len(bytes.fromhex(self.udh or ""))
        if self.coding == "Default_No_Compression":
            return is_gsm(self.text) and septets(self.text) + (udh * 8 + 6) // 7 <= 160
        return utf16_units(self.text) * 2 + udh <= 140


@dataclass(frozen=True)
class SentSms:
    id: int  # the outbox ID the message had
    number: str  # DestinationNumber
    creator_id: str  # our reference, carried from outbox.CreatorID
    sender_id: str  # the PhoneID of the gammu-smsd that sent it
    parts: list[SentPart]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts)


class GammuGateway:
    """One gammu-smsd on a database of its own (created, with Gammu's schema, on first start)."""

    def __init__(self, admin_url: str, db_name: str, state_dir: Path, phone_id: str = "modem1",
                 zone: str = "Asia/Jakarta") -> None:
        """admin_url: any database URL of the cluster whose user may create databases."""
        self.db_name, self.state_dir, self.phone_id, self.zone = db_name, Path(state_dir), phone_id, zone
        self.url = f"{admin_url.rpartition('/')[0]}/{db_name}"
        self.home = self.state_dir / "gammu"
        self.sim_inbox = self.home / "dummy" / "sms" / "1"
        self.log_path = self.home / "smsd.log"
        self.env = {**os.environ, "ADUAN_STATE_DIR": str(self.state_dir), "ADUAN_GAMMU_DB_NAME": db_name,
                    "ADUAN_GAMMU_PHONE_ID": phone_id, "ADUAN_GAMMU_TZ": zone,
                    "ADUAN_PG_PORT": str(urlsplit(admin_url).port or 5432)}

    async def _script(self, command: str, timeout: float = 60) -> None:
        result = await asyncio.to_thread(subprocess.run, [str(SCRIPT), command], env=self.env,
                                         capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"gammu.sh {command} failed ({result.returncode}):\n{result.stderr}")

    async def start(self) -> None:
        """Starts (or restarts after kill) and returns once it is connected and polling."""
        await self._script("start")

    async def stop(self) -> None:
        await self._script("stop")

    async def reset(self) -> None:
        """Stops it and drops its database and state."""
        await self._script("reset")

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut would: no clean-up of its own. start() brings it back."""
        pid = int((self.home / "smsd.pid").read_text())
        os.kill(pid, signal.SIGKILL)

    async def reported_since(self, moment: datetime) -> bool:
        """Whether gammu-smsd has updated its phones row (every StatusFrequency) since `moment`, in the
        database's local time: what a supervisor watches. UpdatedInDB is set by a trigger in the
        database's zone."""
        try:
            rows = await self._fetch('SELECT 1 FROM phones WHERE "ID" = $1 AND "UpdatedInDB" > $2',
                                     self.phone_id, moment)
        except (OSError, asyncpg.PostgresError):
            return False
        return bool(rows)

    async def indexes(self, table: str) -> list[str]:
        return [r["indexname"] for r in await self._fetch("SELECT indexname FROM pg_indexes WHERE tablename = $1",
                                                           table)]

    async def database_time(self) -> datetime:
        return (await self._fetch("SELECT localtimestamp(0) AS now"))[0]["now"]

    def alive(self) -> bool:
        try:
            os.kill(int((self.home / "smsd.pid").read_text()), 0)
        except (OSError, ValueError):
            return False
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # --- receiving -----------------------------------------------------------------------------

    def inject(self, sender: str, text: str, at: datetime | None = None, smsc: str = "+6281100000") -> list[Path]:
        """Puts an SMS from `sender` into the modem, as the network would deliver it: one file per
        physical SMS (GSM 7-bit if every character is in the GSM alphabet, else UCS-2; split into
        concatenated parts with an 8-bit-reference UDH when it does not fit in one). `at` is the
        SMSC timestamp (default now); the dummy driver reads it as UTC, so it is written in UTC."""
        coding, parts = split_sms(text)
        stamp = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        ref = next(_refs) % 256
        files = []
        for seq, part in enumerate(parts, 1):
            udh = f"UDH = 050003{ref:02X}{len(parts):02X}{seq:02X}\n" if len(parts) > 1 else ""
            hex_text = part.encode("utf-16-be").hex().upper()
            lines = [hex_text[i:i + 200] for i in range(0, len(hex_text), 200)] or [""]
            body = "".join(f"Text{n:02d} = {chunk}\n" for n, chunk in enumerate(lines))
            files.append(f'[SMSBackup000]\nSMSC = "{smsc}"\nPDU = Deliver\nDateTime = {stamp}\n'
                         f'State = UnRead\nNumber = "{sender}"\n{udh}{body}Coding = {coding}\n'
                         f'Folder = 1\nLength = {len(hex_text) // 4}\nClass = -1\n')
        return [self._drop(body) for body in files]

    def _drop(self, body: str) -> Path:
        """Writes a whole file under a free location number (1..10000): the driver only looks at
        numeric names, so the temporary name is invisible, and link() never overwrites."""
        self.sim_inbox.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.sim_inbox, prefix=".inject-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
            for location in range(1, 10001):
                target = self.sim_inbox / str(location)
                try:
                    os.link(tmp, target)
                    return target
                except FileExistsError:
                    continue
            raise RuntimeError(f"the dummy SIM inbox {self.sim_inbox} is full")
        finally:
            os.unlink(tmp)

    async def wait_inbox(self, count: int, timeout: float = 15, after_id: int = 0) -> list[asyncpg.Record]:
        """Waits until `inbox` has `count` rows with ID > after_id; returns them in ID order."""
        return await self._wait('SELECT * FROM inbox WHERE "ID" > $1 ORDER BY "ID"', count, timeout, after_id)

    # --- sending -------------------------------------------------------------------------------

    async def sent(self, count: int = 1, timeout: float = 15, creator_id: str | None = None) -> list[SentSms]:
        """Waits until `count` messages (all parts of each) left `outbox` for `sentitems`; returns
        them in ID order, optionally only those whose CreatorID is `creator_id`."""
        query = ('SELECT * FROM sentitems s WHERE ($1::text IS NULL OR "CreatorID" = $1)'
                 ' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o."ID" = s."ID")'
                 ' ORDER BY "ID", "SequencePosition"')
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            messages = _group(await self._fetch(query, creator_id))
            if len(messages) >= count:
                return messages
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(messages)} of {count} messages sent after {timeout} s; "
                                   f"end of {self.log_path}:\n{self.log()[-2000:]}")
            await asyncio.sleep(0.2)

    # --- plumbing ------------------------------------------------------------------------------

    async def _fetch(self, query: str, *args) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def _wait(self, query: str, count: int, timeout: float, *args) -> list[asyncpg.Record]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(rows := await self._fetch(query, *args)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(rows)} of {count} rows after {timeout} s; "
                                   f"end of {self.log_path}:\n{self.log()[-2000:]}")
            await asyncio.sleep(0.2)
        return rows


def _group(rows: list[asyncpg.Record]) -> list[SentSms]:
    messages: dict[int, SentSms] = {}
    for r in rows:
        message = messages.setdefault(r["ID"], SentSms(r["ID"], r["DestinationNumber"], r["CreatorID"],
                                                        r["SenderID"], []))
        message.parts.append(SentPart(r["SequencePosition"], r["TextDecoded"], r["Coding"], r["UDH"], r["Status"]))
    return list(messages.values())
