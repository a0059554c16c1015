from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.router.routing.rules import DEFAULT_RULES_FILE
from shared.evidence import EvidenceSettings
from shared.settings import ServiceSettings
from shared.units import DEFAULT_UNITS_FILE


class RouterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_ROUTER_")

    port: int = 8090  # health, metrics and the API for people
    group_id: str = "router"
    rules_file: Path = DEFAULT_RULES_FILE
    units_file: Path = DEFAULT_UNITS_FILE
    rules_check_seconds: float = 5.0  # how often the rule files are checked for changes
    # The second opinion where the rules fall back (routing/second_opinion.py), trained on the team's
    # labelled complaints (services/router/labelled/) and these files (JSON list of paths: the city's corrections
    # from `python -m services.router.corrections export`). Off: every complaint no rule claims goes to triage.
    second_opinion: bool = True
    second_opinion_files: list[Path] = []
    second_opinion_threshold: float = Field(default=0.6, gt=0, le=1)
    # A model trained beforehand (`python -m services.router.routing.second_opinion PATH`; the image has one):
    # loaded instead of training when it was trained on the same data and settings, else the router trains.
    second_opinion_saved: Path | None = None
    outbox_check_seconds: float = 5.0  # how often stored-but-unpublished events are looked for
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)  # ADUAN_S3_*: read, for the inbox
    duplicate_check_seconds: float = 5.0  # how often new complaints are compared with the open ones
    deadline_check_seconds: float = 60.0  # how often overdue complaints are escalated and silent ones closed
    # Bearer tokens, as JSON: {"<operator name>": "<token>"} and {"<unit code>": "<token>"}.
    operator_tokens: dict[str, SecretStr] = {}
    # Back-office roles, as JSON: {"<operator name>": "admin"}; anyone not named is "sekretariat".
    operator_roles: dict[str, str] = {}
    unit_tokens: dict[str, SecretStr] = {}
    # Signs the unit inbox's sessions and the links in unit e-mails (the notifier has the same secret).
    # Empty: the inbox is off. At least 32 random bytes in production, from a Secret.
    inbox_secret: SecretStr = SecretStr("")
    inbox_cookie_secure: bool = True  # only over HTTPS; `make run` (plain HTTP on 127.0.0.1) turns it off
    inbox_session_hours: float = 8.0
    # The back-office shows what the notifier and lapor_sync delivered for a complaint, from their record APIs
    # (shared/delivery_record.py), with this token (theirs: ADUAN_NOTIFIER_/ADUAN_LAPOR_SYNC_RECORD_TOKEN).
    notifier_url: str = "http://127.0.0.1:8091"
    lapor_sync_url: str = "http://127.0.0.1:8092"
    delivery_record_token: SecretStr = SecretStr("")
    # Collective leave days (cuti bersama) of the year's decree, as JSON: ["2026-03-23", ...].
    collective_leave: list[date] = []
