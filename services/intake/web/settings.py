"""The web intake's settings (ADUAN_WEB_*)."""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.evidence import EvidenceSettings
from shared.settings import ServiceSettings


class WebSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_WEB_")

    port: int = 8080
    status_group_id: str = "web-status"
    # Shared by all replicas in production; a random one per process is fine for one replica.
    csrf_secret: SecretStr = SecretStr(secrets.token_hex(32))
    secure_cookies: bool = False  # True behind HTTPS
    submissions_per_minute: float = 2.0  # per client address, after a burst of...
    submissions_burst: int = 10
    # Proxies in front that append the address they saw to X-Forwarded-For (Kubernetes: the ingress, 1). The
    # client is that many entries from the right; what is left of it the client wrote itself. 0: the peer.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    # Forms read at once: each may spool up to its 6 MB photo to /tmp (a 64 MiB emptyDir in Kubernetes).
    concurrent_forms: int = Field(default=8, ge=1)
    # Requests in flight past which more are refused at once with 503 + Retry-After (shared/channel_kit.py
    # InFlightLimit): enough for about a second's work on one core, so what is taken is answered within it.
    max_in_flight: int = Field(default=32, ge=1)
    # Open311 clients (civic apps, other cities' tools), as JSON: {"<client name>": "<api_key>"}. None: POST
    # requests.{xml,json} is refused with 403. Each client has its own rate limit, not each address: one app's
    # server files for many citizens.
    open311_api_keys: dict[str, SecretStr] = {}
    open311_requests_per_minute: float = 30.0
    open311_burst: int = 60
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)  # ADUAN_S3_*
