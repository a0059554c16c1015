"""The one way services build their Kafka clients: the login, durable producer settings and metrics."""

from __future__ import annotations

import logging
import ssl
from typing import Any

from fast_depends.pydantic import PydanticSerializer
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import SASLScram512
from prometheus_client import REGISTRY

from shared.settings import KafkaSettings

# FastStream's default logger prints its own text format; this one goes to the root
# logger, so broker logs are JSON and masked like every other line.
BROKER_LOGGER = logging.getLogger("aduan.broker")


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka keyword arguments for a producer, consumer or admin client: where, and the login."""
    options: dict[str, Any] = {"bootstrap_servers": settings.bootstrap_servers}
    if settings.username:
        options |= {"security_protocol": "SASL_SSL" if settings.tls else "SASL_PLAINTEXT",
                    "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": settings.username,
                    "sasl_plain_password": settings.password.get_secret_value()}
        if settings.tls:
            options["ssl_context"] = ssl.create_default_context()
    return options


def make_broker(settings: KafkaSettings, client_id: str) -> KafkaBroker:
    security = SASLScram512(settings.username, settings.password.get_secret_value(),
                            use_ssl=settings.tls) if settings.username else None
    # acks=all + idempotent producer: an acknowledged event survives a broker crash and a
    # producer retry never writes it twice. Topics are made by their owner (shared/topics.py, Strimzi), never
    # by a subscriber starting: a service's user may not create topics.
    return KafkaBroker(
        settings.bootstrap_servers,
        security=security,
        allow_auto_create_topics=False,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        middlewares=[KafkaPrometheusMiddleware(registry=REGISTRY, app_name=client_id)],
        logger=BROKER_LOGGER,
        # A handler's argument that does not validate raises fast_depends' ValidationError, which
        # shared/dead_letter.py parks; a pydantic error raised inside a handler is a bug, and retried.
        serializer=PydanticSerializer(use_fastdepends_errors=True),
    )
