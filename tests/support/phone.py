"""A citizen's phone for `make run`: sends an SMS into the local Kannel (through fakesmsc) or Gammu SMSD
(the dummy modem's SIM), and shows what the gateways sent back.

    .venv/bin/python -m tests.support.phone kannel +6281234567890 "SURGA lampu jalan mati"
    .venv/bin/python -m tests.support.phone gammu +6281234567890 "SURGA Jum’at loket tutup 😡"
    .venv/bin/python -m tests.support.phone sent
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from tests.support.gammu import GammuGateway
from tests.support.kannel import Kannel
from tests.support.processes import REPO

STATE = Path(os.environ.get("ADUAN_STATE_DIR", REPO / ".local"))
DATABASE = os.environ.get("ADUAN_DB_URL", "postgresql://aduan:aduan@127.0.0.1:15432/aduan")


def kannel() -> Kannel:
    return Kannel(STATE, os.environ.get("ADUAN_KANNEL_INTAKE_URL", "http://127.0.0.1:8081"))


def gammu() -> GammuGateway:
    return GammuGateway(DATABASE, os.environ.get("ADUAN_GAMMU_DB_NAME", "gammu"), STATE)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gateway", choices=["kannel", "gammu", "sent"])
    parser.add_argument("sender", nargs="?", default="+6281234567890")
    parser.add_argument("text", nargs="?", default="SURGA lampu jalan di Jl. Dhoho mati")
    parser.add_argument("--to", default="1708", help="the number texted (Kannel)")
    args = parser.parse_args()
    if args.gateway == "kannel":
        print(f"sent as {kannel().send_mo(args.sender, args.to, args.text)}")
    elif args.gateway == "gammu":
        print(f"on the SIM: {', '.join(str(path) for path in gammu().inject(args.sender, args.text))}")
    else:
        for text in kannel().mt_texts():
            print(f"kannel -> {text.receiver} ({text.coding}, {len(text.parts)} part(s)): {text.text}")
        for sms in await gammu().sent(0, timeout=1):
            print(f"gammu  -> {sms.number} ({len(sms.parts)} part(s)): {sms.text}")


if __name__ == "__main__":
    asyncio.run(main())
