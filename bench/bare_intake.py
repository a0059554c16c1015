"""Baseline for bench/web_intake.py: an HTTP endpoint that only produces the body to Kafka.

Same server (uvicorn), same producer settings (acks=all, idempotent), no validation, no
database, no FastAPI: the floor any intake pays for "accepted only after Kafka acknowledged".
"""

from __future__ import annotations

import os
import uuid

import uvicorn
from aiokafka import AIOKafkaProducer

from shared.kafka import client_options
from shared.settings import KafkaSettings

TOPIC = os.environ["BENCH_TOPIC"]
producer: AIOKafkaProducer | None = None


async def app(scope, receive, send):
    global producer
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                producer = AIOKafkaProducer(**client_options(KafkaSettings()), acks="all", enable_idempotence=True)
                await producer.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await producer.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status = 200
    if scope["method"] == "POST":
        await producer.send_and_wait(TOPIC, body, key=uuid.uuid4().bytes)
        status = 202
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"accepted": true}'})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["BENCH_PORT"]), log_level="warning")
