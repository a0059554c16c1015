from pathlib import Path

from pydantic_settings import SettingsConfigDict

from services.router.rules import DEFAULT_RULES_FILE, DEFAULT_UNITS_FILE
from shared.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_ROUTER_")

    port: int = 8090  # health and metrics
    group_id: str = "router"
    rules_file: Path = DEFAULT_RULES_FILE
    units_file: Path = DEFAULT_UNITS_FILE
