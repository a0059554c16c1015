"""Scaffold a new intake channel; see docs/adding-a-channel.md."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from string import Template

HERE = Path(__file__).parent
REPO = HERE.parents[1]
FILES = ("__init__.py", "__main__.py", "app.py", "contract.py", "way_back.py")


def scaffold(name: str, port: int, root: Path = REPO) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,30}", name):
        raise ValueError(f"channel name {name!r}: lower-case letters, digits and _, starting with a letter")
    target = root / "services" / "intake" / name
    if target.exists():
        raise FileExistsError(f"{target} exists already")
    target.mkdir(parents=True)
    values = {"name": name, "NAME": name.upper(), "Name": name.replace("_", " ").title().replace(" ", ""),
              "port": str(port)}
    for file in FILES:
        text = Template((HERE / f"{file}.tmpl").read_text()).substitute(values)
        (target / file).write_text(text)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="channel name, e.g. telegram")
    parser.add_argument("--port", type=int, default=8083, help="default HTTP port (ADUAN_<NAME>_PORT overrides)")
    args = parser.parse_args()
    try:
        target = scaffold(args.name, args.port)
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"created {target.relative_to(REPO)}/: {', '.join(FILES)}")
    print(f"run it:   .venv/bin/python -m services.intake.{args.name}")
    print(f"test it:  .venv/bin/python -m pytest tests/contract -k {args.name}")
    print("then add it to deploy/local/Procfile and adapt app.py and way_back.py to the real protocol"
          " (docs/adding-a-channel.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
