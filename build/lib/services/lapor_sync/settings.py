from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import DeliverySettings


class LaporSyncSettings(DeliverySettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_LAPOR_SYNC_")

    port: int = 8092  # health and metrics
    group_id: str = "lapor-sync"
    lapor_base_url: str = "http://127.0.0.1:8099"  # the local stand-in; production sets the real one
    lapor_token: SecretStr = SecretStr("local-standin-token")
    lapor_timeout_seconds: float = 10.0
    circuit_failures: int = 5  # consecutive failures that suspend calls to LAPOR!
    circuit_open_seconds: float = 30.0
