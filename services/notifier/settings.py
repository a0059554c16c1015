from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_NOTIFIER_")

    port: int = 8091  # health and metrics
    group_id: str = "notifier"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 15.0
    mail_from: str = "Aduan Kota Kediri <aduan@kedirikota.go.id>"
    mail_domain: str = "aduan.kedirikota.go.id"  # right-hand side of our Message-IDs
