"""What the notifier and lapor_sync delivered for a complaint, read from their record APIs
(shared/delivery_record.py) for the back-office's complaint page. Each service keeps its own; a service
that does not answer within a few seconds leaves its part of the page saying so, not the page failing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import structlog

from shared.delivery_record import PATH, Delivery

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Record:
    deliveries: list[Delivery] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # services that did not answer

    @property
    def lapor_tracking_id(self) -> str | None:
        return next((d.lapor_tracking_id for d in self.deliveries if d.lapor_tracking_id), None)


class DeliveryRecords:
    def __init__(self, sources: dict[str, str], token: str, timeout_seconds: float = 3.0) -> None:
        self.sources = {name: url.rstrip("/") for name, url in sources.items() if url}
        self.token = token
        self.http = httpx.AsyncClient(timeout=timeout_seconds)

    async def of(self, complaint_id: str) -> Record:
        if not self.token:
            return Record(unreachable=sorted(self.sources))
        answers = await asyncio.gather(*(self._one(name, url, complaint_id) for name, url in self.sources.items()))
        deliveries = sorted((d for found in answers if found for d in found), key=lambda d: d.created_at)
        return Record(deliveries, sorted(name for name, found in zip(self.sources, answers, strict=True)
                                         if found is None))

    async def _one(self, name: str, url: str, complaint_id: str) -> list[Delivery] | None:
        try:
            answer = await self.http.get(url + PATH.format(complaint_id=complaint_id),
                                         headers={"Authorization": f"Bearer {self.token}"})
            answer.raise_for_status()
            return [Delivery.model_validate(d) for d in answer.json()]
        except (httpx.HTTPError, ValueError) as error:
            log.warning("delivery_record_unavailable", source=name, error=type(error).__name__)
            return None

    async def close(self) -> None:
        await self.http.aclose()
