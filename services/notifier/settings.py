from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.evidence import EvidenceSettings
from shared.settings import DeliverySettings
from shared.units import DEFAULT_UNITS_FILE


class NotifierSettings(DeliverySettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_NOTIFIER_")

    port: int = 8091  # health and metrics
    group_id: str = "notifier"
    public_base_url: str = "http://127.0.0.1:8080"  # links in messages point to the status page here
    # Unit e-mails carry a signed link into the unit inbox (served by the router at this address).
    # The secret equals the router's ADUAN_ROUTER_INBOX_SECRET; empty: no link.
    inbox_base_url: str = "http://127.0.0.1:8090"
    inbox_secret: SecretStr = SecretStr("")
    inbox_link_days: float = 3.0  # single-use; after that the unit signs in with its password
    units_file: Path = DEFAULT_UNITS_FILE  # the router's registry: every unit's addresses come from here

    # E-mail to units and to citizens who gave an address.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 15.0
    mail_from: str = "Aduan Kota Kediri <aduan@kedirikota.go.id>"
    mail_domain: str = "aduan.kedirikota.go.id"  # right-hand side of our Message-IDs

    # Signed webhooks to units that registered one: {"<unit code>": "<secret>"} as JSON.
    webhook_secrets: dict[str, SecretStr] = {}
    http_timeout_seconds: float = 10.0

    # The SMS gateways this city runs (docs/sms-gateways.md): "kannel" (smsbox sendsms), "gammu" (rows in
    # Gammu SMSD's outbox, needs gammu_database_url), "generic" (signed JSON POST). An answer goes back
    # through the gateway the citizen wrote through, so it comes from the number they wrote to; through
    # the first of these when that one is not run here. As JSON: ["kannel", "gammu"].
    sms_gateways: list[Literal["kannel", "gammu", "generic"]] = Field(default=["kannel"], min_length=1)
    kannel_sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"  # make run's Kannel
    kannel_username: str = "aduan"
    kannel_password: SecretStr = SecretStr("")  # required when sms_gateways names kannel
    sms_sender: str = "1708"
    gammu_database_url: str | None = None  # Gammu SMSD's database; make run: .../gammu on the local cluster
    generic_sms_url: str = "http://127.0.0.1:13090/api/v1/messages"  # the stand-in (standins/sms_gateway.py)
    generic_sms_secret: SecretStr = SecretStr("")  # required when sms_gateways names generic
    # What may leave as SMS (services/notifier/sms_limits.py): numbers of these countries only, at most so
    # many to one number, at most so many a minute in all.
    sms_country_prefixes: list[str] = ["+62"]
    sms_per_recipient_per_hour: int = 10
    sms_per_recipient_per_day: int = 30
    sms_overall_per_minute: int = 300

    # WhatsApp Cloud API (the local stand-in by default).
    whatsapp_api_url: str = "http://127.0.0.1:8098/v21.0"
    whatsapp_phone_number_id: str = "106540352242922"
    whatsapp_token: SecretStr = SecretStr("")  # required
    whatsapp_template: str = "aduan_diterima"  # an approved template, for outside the 24-hour window
    # Approved template for status changes; body parameters: code, status, the unit's message, closing day.
    whatsapp_status_template: str = "aduan_status"
    whatsapp_template_language: str = "id"
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)  # ADUAN_S3_*: WhatsApp media kept here

    @model_validator(mode="after")
    def _gateways_have_their_secrets(self) -> NotifierSettings:
        """No secret has a default: a deployment that forgot one must not start (and send with a known one)."""
        needed = {"ADUAN_NOTIFIER_WHATSAPP_TOKEN": self.whatsapp_token.get_secret_value()}
        if "kannel" in self.sms_gateways:
            needed["ADUAN_NOTIFIER_KANNEL_PASSWORD"] = self.kannel_password.get_secret_value()
        if "generic" in self.sms_gateways:
            needed["ADUAN_NOTIFIER_GENERIC_SMS_SECRET"] = self.generic_sms_secret.get_secret_value()
        if "gammu" in self.sms_gateways:
            needed["ADUAN_NOTIFIER_GAMMU_DATABASE_URL"] = self.gammu_database_url or ""
        if missing := sorted(name for name, value in needed.items() if not value):
            raise ValueError(f"set {', '.join(missing)} (the gateways in sms_gateways need them)")
        return self
