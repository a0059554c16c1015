"""Settings shared by the services, read from environment variables with local defaults.

Each service adds its own settings class (in its own package) that embeds these.
Secrets come from the environment only; the defaults below are for the local stack.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_KAFKA_")

    bootstrap_servers: str = "127.0.0.1:9092"
    # SASL/SCRAM-SHA-512 login: each service its own user, allowed only its topics (shared/kafka_access.py).
    # Empty: no login (a broker without SASL, e.g. testcontainers' Kafka).
    username: str = ""
    password: SecretStr = SecretStr("")
    tls: bool = False  # SASL_SSL instead of SASL_PLAINTEXT (a Strimzi listener with tls: true)
    topic_prefix: str = Field(default="", description="prefix for every topic name")
    replication_factor: int = 1
    # How long an intake waits for the broker's acknowledgement before answering 503.
    publish_timeout_seconds: float = 10.0


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_DB_")

    url: str = "postgresql://aduan:aduan@127.0.0.1:15432/aduan"
    pool_min_size: int = 1
    pool_max_size: int = 5


class ServiceSettings(BaseSettings):
    """What every service has: where it listens, and how it reaches Kafka and PostgreSQL."""

    host: str = "127.0.0.1"
    port: int
    log_level: str = "INFO"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    # Events a consumer takes from Kafka, stores and commits together (one transaction, one commit).
    batch_size: int = 200


class DeliverySettings(ServiceSettings):
    """What a service that delivers to the outside through shared/jobs.py adds."""

    # 15 attempts with back-off capped at 10 minutes ride out 40 to 80 minutes of outage (the jitter decides).
    retry_max_attempts: int = 15
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 600.0
    concurrency: int = 8  # deliveries in flight at once
    lease_seconds: float = 120.0  # a claimed job whose process died runs again after this
    shutdown_grace_seconds: float = 10.0  # on SIGTERM, deliveries in flight get this long to finish
    # Lets the router's back-office read what was delivered for a complaint (shared/delivery_record.py);
    # the router's ADUAN_ROUTER_DELIVERY_RECORD_TOKEN. Empty: the record API answers 404.
    record_token: SecretStr = SecretStr("")
