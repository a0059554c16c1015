from datetime import date
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from services.router.rules import DEFAULT_RULES_FILE
from services.router.units import DEFAULT_UNITS_FILE
from shared.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_ROUTER_")

    port: int = 8090  # health, metrics and the API for people
    group_id: str = "router"
    rules_file: Path = DEFAULT_RULES_FILE
    units_file: Path = DEFAULT_UNITS_FILE
    rules_check_seconds: float = 5.0  # how often the rule files are checked for changes
    outbox_check_seconds: float = 5.0  # how often stored-but-unpublished assignments are looked for
    # Bearer tokens, as JSON: {"<operator name>": "<token>"} and {"<unit code>": "<token>"}.
    operator_tokens: dict[str, SecretStr] = {}
    unit_tokens: dict[str, SecretStr] = {}
    # Collective leave days (cuti bersama) of the year's decree, as JSON: ["2026-03-23", ...].
    collective_leave: list[date] = []
