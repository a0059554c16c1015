"""The units registry: which work units exist, how to reach them, their deadlines. Data, not code.

The router routes with it; the notifier takes every unit's addresses from it, never from an event, so a
forged or mistaken event cannot send a complaint to an address of its choosing.
"""

from __future__ import annotations

import hashlib
import time
from functools import cached_property
from pathlib import Path

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl, ValidationError

from shared.contracts import Unit

DEFAULT_UNITS_FILE = Path(__file__).parent / "units.yaml"
log = structlog.get_logger(__name__)


class RegistryError(ValueError):
    """The registry cannot be used; the message names the file, the entry and the problem."""


class Deadlines(BaseModel):
    """Working days, SP4N-LAPOR!'s by default; a unit may override any of them."""

    model_config = ConfigDict(extra="forbid")

    forward: int = Field(default=3, ge=1)
    follow_up: int = Field(default=5, ge=1)
    close_after_response: int = Field(default=10, ge=1)


class UnitEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str = Field(min_length=3)
    email: EmailStr
    head_email: EmailStr | None = None  # escalations go here
    webhook_url: HttpUrl | None = None
    deadlines: Deadlines | None = None  # None: the registry's defaults

    def as_unit(self) -> Unit:
        return self._unit

    @cached_property
    def _unit(self) -> Unit:
        """Built once per registry load (Unit is frozen, so every event may share it): validating its e-mail
        addresses again for each complaint was 12 % of the router's CPU (py-spy, bench.router_throughput)."""
        return Unit(code=self.code, name=self.name, email=self.email, head_email=self.head_email,
                    webhook_url=str(self.webhook_url) if self.webhook_url else None)


class UnitsRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fallback: str
    coordinator_email: EmailStr | None = None  # the PPID coordinator: hears of every escalation
    defaults: Deadlines = Deadlines()
    units: list[UnitEntry]

    def get(self, code: str) -> UnitEntry | None:
        return next((unit for unit in self.units if unit.code == code), None)

    def deadlines_for(self, code: str) -> Deadlines:
        entry = self.get(code)
        overrides = entry.deadlines.model_dump(exclude_unset=True) if entry and entry.deadlines else {}
        return self.defaults.model_copy(update=overrides)


def parse_registry(raw: bytes, path: Path) -> UnitsRegistry:
    try:
        data = yaml.safe_load(raw)
        registry = UnitsRegistry.model_validate(data)
    except yaml.YAMLError as error:
        raise RegistryError(f"{path}: not valid YAML: {error}") from error
    except ValidationError as error:
        problems = "; ".join(f"{_where(data, e['loc'])}: {e['msg']}" for e in error.errors())
        raise RegistryError(f"{path}: {problems}") from error
    codes = [unit.code for unit in registry.units]
    if duplicates := sorted({code for code in codes if codes.count(code) > 1}):
        raise RegistryError(f"{path}: unit {duplicates[0]!r}: duplicate code")
    if registry.get(registry.fallback) is None:
        raise RegistryError(f"{path}: fallback unit {registry.fallback!r} is not in the units list")
    return registry


def _where(data: object, loc: tuple[int | str, ...]) -> str:
    """'unit "bppkad" email' rather than 'units.2.email'."""
    if len(loc) >= 2 and loc[0] == "units" and isinstance(loc[1], int) and isinstance(data, dict):
        entry = (data.get("units") or [{}])[loc[1]] if loc[1] < len(data.get("units") or []) else {}
        code = entry.get("code") if isinstance(entry, dict) else None
        return f"unit #{loc[1] + 1} {code!r} " + ".".join(map(str, loc[2:]))
    return ".".join(map(str, loc))


class LiveRegistry:
    """The registry file as it is now: read again when its content changes (looked at every few seconds;
    a ConfigMap update swaps a symlink). A changed file that fails validation is logged and not used."""

    def __init__(self, path: Path, check_seconds: float = 5.0) -> None:
        self.path, self.check_seconds = Path(path), check_seconds
        raw = self.path.read_bytes()
        self._current = parse_registry(raw, self.path)  # invalid: the service does not start
        self._digest = hashlib.sha256(raw).hexdigest()
        self._checked = time.monotonic()

    def current(self) -> UnitsRegistry:
        if time.monotonic() - self._checked >= self.check_seconds:
            self._checked = time.monotonic()
            try:
                raw = self.path.read_bytes()
                if (digest := hashlib.sha256(raw).hexdigest()) != self._digest:
                    self._current, self._digest = parse_registry(raw, self.path), digest
                    log.info("units_registry_reloaded", units=len(self._current.units))
            except (OSError, RegistryError) as error:
                log.error("units_registry_rejected", error=str(error))
        return self._current
