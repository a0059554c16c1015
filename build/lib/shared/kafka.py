"""The one way services build their Kafka broker: durable producer settings and metrics."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY

from shared.settings import KafkaSettings

# FastStream's default logger prints its own text format; this one goes to the root
# logger, so broker logs are JSON and masked like every other line.
BROKER_LOGGER = logging.getLogger("aduan.broker")


def make_broker(settings: KafkaSettings, client_id: str) -> KafkaBroker:
    # acks=all + idempotent producer: an acknowledged event survives a broker crash and a
    # producer retry never writes it twice.
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        middlewares=[KafkaPrometheusMiddleware(registry=REGISTRY, app_name=client_id)],
        logger=BROKER_LOGGER,
    )
