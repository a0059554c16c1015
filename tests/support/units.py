"""A copy of the units registry with some entries changed, for a notifier or router under test."""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.units import DEFAULT_UNITS_FILE

UNSET = object()


def registry_file(directory: Path, coordinator_email: object = UNSET, **changes: dict) -> Path:
    """`changes`: per unit code, the fields to set (None removes a field)."""
    data = yaml.safe_load(DEFAULT_UNITS_FILE.read_text())
    if coordinator_email is not UNSET:
        data["coordinator_email"] = coordinator_email
    for code, fields in changes.items():
        [entry] = [unit for unit in data["units"] if unit["code"] == code]
        entry.update(fields)
        for name in [name for name, value in entry.items() if value is None]:
            del entry[name]
    path = directory / "units.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path
