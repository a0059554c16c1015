"""Debian's real Kannel 1.4.5 (bearerbox + smsbox) with fakesmsc as the SMSC, for tests.

Everything goes through deploy/local/kannel.sh, so the tests run the config we give the city
(deploy/gateways/kannel/kannel.conf.template).  The calls block (subprocess, polling); from an
async test run them with asyncio.to_thread.  By hand, from the repository root:

    .venv/bin/python
    >>> from pathlib import Path; from tests.support.kannel import Kannel, KannelPorts
    >>> k = Kannel(Path("/tmp/k"), "http://127.0.0.1:8081", KannelPorts(23000, 23001, 23013, 23010)).start()
    >>> k.send_mo("+6281234567", "1717", "Jalan rusak 😡")     # -> "ucs2"; our intake gets it
    >>> k.sendsms("+6281234567", "Terima kasih", coding="0"); k.wait_mt(1)[0].text
    >>> k.kill_smsbox(); k.restart(); k.stop()

fakesmsc facts this relies on (checked against 1.4.5):
- MO: one line per message on fakesmsc's stdin (a FIFO here): "sender receiver text <raw UTF-8>",
  "sender receiver ucs2 <url-encoded UTF-16BE>" or "sender receiver udh-text <url-encoded UDH>
  <raw text>".  A "text" line cannot carry a line feed, so such texts go as ucs2.
- fakesmsc reads stdin with fgets(256) and select(): a line longer than 255 bytes is sent in
  pieces and the rest waits in stdio's buffer until more bytes arrive, so after each line we
  write lone "\\n" (which fakesmsc skips) until its log counts every piece as sent.
- MT: "Got message N: <sender receiver text <raw>>", "... ucs-2 <url-encoded UTF-16BE>",
  "... data <url-encoded>" or "... udh <url-encoded UDH> data <url-encoded>" (for every
  coding: fakesmsc's protocol loses it once there is a UDH).  A raw text with a line feed is
  split over two log entries.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

import httpx

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "local" / "kannel.sh"

# GSM 03.38 default alphabet and its extension table (the extension costs two septets).
GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
             "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = "^{}\\[~]|€\f"
_GSM = set(GSM_BASIC + GSM_EXTENSION)

_FAKESMSC_LINE = 255  # fgets(buffer, 256, stdin)
_MT = re.compile(r"DEBUG: Got message \d+: <(.*)>$")
_MT_FIELDS = re.compile(r"(\S+) (\S+) (text|data|ucs-2|udh) (.*)$", re.S)


def is_gsm(text: str) -> bool:
    return all(c in _GSM for c in text)


@dataclass(frozen=True)
class KannelPorts:
    admin: int = 13000
    smsbox: int = 13001
    sendsms: int = 13013
    fakesmsc: int = 13010


@dataclass(frozen=True)
class MtMessage:
    """One SMS as fakesmsc received it (one part of a long text)."""

    sender: str
    receiver: str
    kind: str  # fakesmsc's type: "text", "ucs-2", "data" or "udh"
    coding: str  # "gsm", "ucs2" or "8bit"; for "udh" parts inferred from the bytes
    udh: bytes
    data: bytes  # UTF-8 for gsm (Kannel's internal form), UTF-16BE for ucs2

    @property
    def concat(self) -> tuple[int, int, int] | None:
        """(reference, total, sequence) from an 8- or 16-bit concatenation element."""
        pos = 1
        while pos + 1 < len(self.udh):
            iei, length = self.udh[pos], self.udh[pos + 1]
            body = self.udh[pos + 2:pos + 2 + length]
            if iei == 0 and length == 3:
                return body[0], body[1], body[2]
            if iei == 8 and length == 4:
                return body[0] << 8 | body[1], body[2], body[3]
            pos += 2 + length
        return None

    @property
    def text(self) -> str:
        return _decode(self.data, self.coding)


@dataclass(frozen=True)
class MtText:
    """A whole text: the parts of a concatenated SMS joined in sequence."""

    sender: str
    receiver: str
    coding: str
    parts: list[MtMessage]
    text: str


def _decode(data: bytes, coding: str) -> str:
    if coding == "ucs2":
        return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")


def _udh_coding(data: bytes) -> str:
    # Kannel's 7-bit text is UTF-8 and never holds a NUL; UTF-16BE of Latin text always does,
    # and is rarely valid UTF-8 otherwise.
    if b"\x00" in data:
        return "ucs2"
    try:
        data.decode("utf-8")
        return "gsm"
    except UnicodeDecodeError:
        return "ucs2"


def _urlencode(data: bytes) -> str:
    return quote(data, safe="")


def _urldecode(text: str) -> bytes:
    """Kannel's octstr_url_encode writes the byte 0x20 as "+" (in UTF-16BE too: ’ is "+%19")."""
    return unquote_to_bytes(text.replace("+", "%20"))


# Kannel's get-url carries it as key= (deploy/gateways/kannel); the SMS intake under test is given the same.
KANNEL_INBOUND_SECRET = "test-kannel-inbound-secret"


class Kannel:
    def __init__(self, state_dir: Path, intake_url: str, ports: KannelPorts = KannelPorts(), *,
                 http_retry: int | None = None, http_queue_delay: int | None = None, user: str = "aduan",
                 password: str = "local-kannel-password", extra_env: dict[str, str] | None = None):
        self.state_dir = Path(state_dir)
        self.dir = self.state_dir / "kannel"
        self.ports = ports
        self.user, self.password = user, password
        self.env = {**os.environ, "ADUAN_STATE_DIR": str(self.state_dir),
                    "ADUAN_KANNEL_INTAKE_URL": intake_url,
                    "ADUAN_KANNEL_ADMIN_PORT": str(ports.admin), "ADUAN_KANNEL_SMSBOX_PORT": str(ports.smsbox),
                    "ADUAN_KANNEL_SENDSMS_PORT": str(ports.sendsms),
                    "ADUAN_KANNEL_FAKESMSC_PORT": str(ports.fakesmsc),
                    "ADUAN_KANNEL_USER": user, "ADUAN_KANNEL_PASSWORD": password,
                    "ADUAN_KANNEL_INBOUND_SECRET": KANNEL_INBOUND_SECRET}
        if http_retry is not None:  # else kannel.sh's defaults, the ones we recommend
            self.env["ADUAN_KANNEL_HTTP_RETRY"] = str(http_retry)
        if http_queue_delay is not None:
            self.env["ADUAN_KANNEL_HTTP_QUEUE_DELAY"] = str(http_queue_delay)
        self.env.update(extra_env or {})

    # --- processes ---------------------------------------------------------------------------

    def _script(self, command: str, timeout: float = 120) -> str:
        result = subprocess.run([str(SCRIPT), command], env=self.env, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"kannel.sh {command} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result.stderr

    def start(self) -> Kannel:
        """Starts whatever of bearerbox, fakesmsc, smsbox is not running; waits until ready."""
        self._script("start")
        return self

    restart = start

    def stop(self) -> None:
        self._script("stop")

    def pid(self, process: str) -> int | None:
        try:
            pid = int((self.dir / f"{process}.pid").read_text())
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(") ")[2][:1]
            if Path(f"/proc/{pid}/comm").read_text().strip() == process and state != "Z":
                return pid
        except (OSError, ValueError):
            pass
        return None

    def kill(self, process: str, sig: int = signal.SIGKILL, timeout: float = 15) -> None:
        """Kills "smsbox", "bearerbox" or "fakesmsc" (SIGKILL: a crash) and waits until it is gone.
        Without its bearerbox fakesmsc exits and smsbox restarts itself 10 s later; restart()
        replaces both."""
        pid = self.pid(process)
        if pid is None:
            raise RuntimeError(f"{process} is not running")
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while self.pid(process) is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{process} ({pid}) still alive {timeout}s after signal {sig}")
            time.sleep(0.05)

    def kill_smsbox(self, sig: int = signal.SIGKILL) -> None:
        self.kill("smsbox", sig)

    def admin_status(self) -> str:
        """bearerbox's /status.txt (queues, store size, SMSC and box connections)."""
        return httpx.get(f"http://127.0.0.1:{self.ports.admin}/status.txt",
                         params={"password": self.env.get("ADUAN_KANNEL_ADMIN_PASSWORD", "local-kannel-admin")},
                         timeout=5).text

    # --- MT: our notifier -> Kannel -> fakesmsc ----------------------------------------------

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sendsms}/cgi-bin/sendsms"

    def sendsms(self, to: str, text: str, sender: str = "1717", **params: str) -> httpx.Response:
        return httpx.get(self.sendsms_url, params={"username": self.user, "password": self.password,
                                                   "from": sender, "to": to, "text": text, **params}, timeout=10)

    def mt_messages(self) -> list[MtMessage]:
        """Every SMS fakesmsc received, in order (across fakesmsc restarts)."""
        path = self.dir / "fakesmsc.log"
        entries: list[str] = []
        for line in path.read_bytes().decode("utf-8", errors="surrogateescape").split("\n"):
            if match := _MT.search(line):
                entries.append(match.group(1))
        messages: list[MtMessage] = []
        for entry in entries:
            fields = _MT_FIELDS.match(entry)
            if fields is None:  # the rest of a raw text after a line feed
                if messages and messages[-1].kind == "text":
                    last = messages.pop()
                    messages.append(MtMessage(last.sender, last.receiver, "text", "gsm", b"",
                                              last.data + b"\n" + _raw(entry)))
                    continue
                raise ValueError(f"unexpected fakesmsc line: {entry!r}")
            sender, receiver, kind, rest = fields.groups()
            if kind == "text":
                messages.append(MtMessage(sender, receiver, kind, "gsm", b"", _raw(rest)))
            elif kind == "ucs-2":
                messages.append(MtMessage(sender, receiver, kind, "ucs2", b"", _urldecode(rest)))
            elif kind == "data":
                messages.append(MtMessage(sender, receiver, kind, "8bit", b"", _urldecode(rest)))
            else:
                udh, _, data = rest.partition(" data ")
                payload = _urldecode(data)
                messages.append(MtMessage(sender, receiver, kind, _udh_coding(payload),
                                          _urldecode(udh), payload))
        return messages

    def mt_texts(self) -> list[MtText]:
        """mt_messages() with concatenated parts joined (in order of their first part)."""
        texts: list[MtText] = []
        open_parts: dict[tuple, list[MtMessage]] = {}
        for message in self.mt_messages():
            concat = message.concat
            if concat is None:
                texts.append(MtText(message.sender, message.receiver, message.coding, [message], message.text))
                continue
            key = (message.sender, message.receiver, concat[0], concat[1])
            parts = open_parts.setdefault(key, [])
            if not parts:
                texts.append(MtText(message.sender, message.receiver, message.coding, parts, ""))
            parts.append(message)
            if len(parts) == concat[1]:
                del open_parts[key]
        result = []
        for text in texts:
            parts = sorted(text.parts, key=lambda p: p.concat[2] if p.concat else 0)
            coding = "ucs2" if any(p.coding == "ucs2" for p in parts) else parts[0].coding
            result.append(MtText(text.sender, text.receiver, coding, parts,
                                 _decode(b"".join(p.data for p in parts), coding)))
        return result

    def wait_mt(self, count: int, timeout: float = 15) -> list[MtText]:
        """Waits until fakesmsc holds at least `count` whole texts; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            texts = self.mt_texts()
            if len(texts) >= count and all(len(t.parts) == (t.parts[0].concat or (0, 1))[1] for t in texts):
                return texts
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(texts)} of {count} MT texts after {timeout}s "
                                   f"(see {self.dir / 'fakesmsc.log'})")
            time.sleep(0.1)

    # --- MO: a phone -> fakesmsc -> Kannel -> our intake --------------------------------------

    def send_mo(self, sender: str, receiver: str, text: str) -> str:
        """Injects one SMS as a phone would send it: GSM 7-bit if every character is in GSM 03.38
        (and fakesmsc can carry it: no line feed), UCS-2 otherwise.  Returns "text" or "ucs2"."""
        if is_gsm(text) and "\n" not in text and not text.endswith("\r"):
            self._inject(f"{sender} {receiver} text {text}".encode())
            return "text"
        self._inject(f"{sender} {receiver} ucs2 ".encode() + _urlencode(text.encode("utf-16-be")).encode())
        return "ucs2"

    def send_mo_concatenated(self, sender: str, receiver: str, parts: list[str], reference: int = 42,
                             order: list[int] | None = None) -> None:
        """Injects a concatenated GSM text, one SMS per part with an 8-bit concatenation UDH
        (05 00 03 ref total seq); `order` (0-based) sends the parts out of order.  fakesmsc can
        only tag UDH parts as 7-bit text or 8-bit data, so the parts must be GSM text."""
        for i in order if order is not None else range(len(parts)):
            part = parts[i]
            if not is_gsm(part) or "\n" in part or part.endswith("\r"):
                raise ValueError(f"part {i + 1} is not GSM text fakesmsc can carry: {part!r}")
            udh = bytes([5, 0, 3, reference & 0xFF, len(parts), i + 1])
            self._inject(f"{sender} {receiver} udh-text {_urlencode(udh)} {part}".encode())

    def _sent_pieces(self) -> int:
        log = self.dir / "fakesmsc.log"
        return log.read_bytes().count(b"fakesmsc: sent message ") if log.exists() else 0

    def _inject(self, line: bytes, timeout: float = 10) -> None:
        if b"\n" in line or b"\x00" in line:
            raise ValueError("a fakesmsc line holds neither a line feed nor a NUL byte")
        line += b"\n"
        if len(line) % _FAKESMSC_LINE == 1:  # a last piece of just "\n" would be skipped: CR LF
            line = line[:-1] + b"\r\n"
        pieces = -(-len(line) // _FAKESMSC_LINE)
        target = self._sent_pieces() + pieces
        try:  # O_NONBLOCK: fails (ENXIO) at once instead of hanging when fakesmsc is not running
            fd = os.open(self.dir / "fakesmsc.in", os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            raise RuntimeError(f"fakesmsc is not running ({error}); call start()") from error
        try:
            os.write(fd, line)  # one write: a FIFO write up to 4096 bytes is atomic
            deadline = time.monotonic() + timeout
            while self._sent_pieces() < target:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"fakesmsc did not send {line[:80]!r}... within {timeout}s "
                                       f"(see {self.dir / 'fakesmsc.log'})")
                time.sleep(0.05)
                if self._sent_pieces() < target:
                    os.write(fd, b"\n")  # releases what waits in fakesmsc's stdio buffer
        finally:
            os.close(fd)


def _raw(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")
