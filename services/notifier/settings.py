from typing import Literal

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import DeliverySettings


class NotifierSettings(DeliverySettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_NOTIFIER_")

    port: int = 8091  # health and metrics
    group_id: str = "notifier"
    public_base_url: str = "http://127.0.0.1:8080"  # links in messages point to the status page here
    # Unit e-mails carry a signed link into the unit inbox (served by the router at this address).
    # The secret equals the router's ADUAN_ROUTER_INBOX_SECRET; empty: no link.
    inbox_base_url: str = "http://127.0.0.1:8090"
    inbox_secret: SecretStr = SecretStr("")
    inbox_link_days: float = 14.0

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

    # SMS to citizens, through the gateway the city runs (docs/sms-gateways.md): "kannel" (smsbox
    # sendsms), "gammu" (rows in Gammu SMSD's outbox tables) or "generic" (signed JSON POST).
    sms_gateway: Literal["kannel", "gammu", "generic"] = "kannel"
    kannel_sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"  # make run's Kannel
    kannel_username: str = "aduan"
    kannel_password: SecretStr = SecretStr("local-kannel-password")
    sms_sender: str = "1708"
    gammu_database_url: str = "postgresql://aduan:aduan@127.0.0.1:15432/gammu"  # make run's Gammu SMSD
    generic_sms_url: str = "http://127.0.0.1:13090/api/v1/messages"  # the stand-in (standins/sms_gateway.py)
    generic_sms_secret: SecretStr = SecretStr("local-sms-gateway-secret")

    # WhatsApp Cloud API (the local stand-in by default).
    whatsapp_api_url: str = "http://127.0.0.1:8098/v21.0"
    whatsapp_phone_number_id: str = "106540352242922"
    whatsapp_token: SecretStr = SecretStr("local-whatsapp-token")
    whatsapp_template: str = "aduan_diterima"  # an approved template, for outside the 24-hour window
    # Approved template for status changes; body parameters: code, status, the unit's message, closing day.
    whatsapp_status_template: str = "aduan_status"
    whatsapp_template_language: str = "id"
