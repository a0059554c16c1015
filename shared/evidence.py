"""The evidence store: the photos, documents and voice notes that came with complaints, kept in an
S3-compatible object store (SeaweedFS locally, deploy/local/s3.sh; any S3 endpoint in a cluster).

Objects are private. A key names the complaint and the bytes' SHA-256, never a person or a file name,
so storing the same bytes twice (a retried form, a redelivered event) is one object. What a unit sees
goes through a service that checks the unit's right to the complaint first (the router's inbox).
"""

from __future__ import annotations

import hashlib
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REFERENCE_PREFIX = "evidence:"  # Attachment.reference of a stored object: "evidence:<key>"
WHATSAPP_PREFIX = "whatsapp-media:"  # a WhatsApp media id: the notifier fetches it from Meta into the store
_KEY = re.compile(r"^complaints/[0-9a-f-]{36}/[0-9a-f]{64}$")
_COMPLAINT_ID = re.compile(r"^[0-9a-f-]{36}$")
_MEDIA_ID = re.compile(r"^[0-9A-Za-z_-]{1,128}$")


class EvidenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_S3_")

    endpoint_url: str = "http://127.0.0.1:17833"
    access_key: SecretStr = SecretStr("local-evidence")
    secret_key: SecretStr = SecretStr("local-evidence-secret")
    bucket: str = "aduan-evidence"
    region: str = "us-east-1"  # S3's signature needs one; SeaweedFS and most others accept any
    timeout_seconds: float = 10.0


class EvidenceMissing(Exception):
    """No such object: a reference that was never stored, or one of another store."""


@dataclass(frozen=True)
class Evidence:
    data: bytes
    content_type: str


def key_for(complaint_id: str, data: bytes) -> str:
    return f"complaints/{complaint_id}/{hashlib.sha256(data).hexdigest()}"


def key_of(reference: str, complaint_id: str = "") -> str | None:
    """The object key an attachment reference names, if it is one of ours and well formed. A WhatsApp media
    id names the key its copy is kept under (whatsapp_media_key), once the notifier has fetched it."""
    if reference.startswith(WHATSAPP_PREFIX):
        return whatsapp_media_key(complaint_id, reference.removeprefix(WHATSAPP_PREFIX))
    if not reference.startswith(REFERENCE_PREFIX):
        return None
    key = reference.removeprefix(REFERENCE_PREFIX)
    return key if _KEY.match(key) else None


def whatsapp_media_key(complaint_id: str, media_id: str) -> str | None:
    """Where a complaint's WhatsApp media is kept: known from the event alone, so the inbox finds it without
    being told, and fetching it again (a retried job) writes the same object."""
    if not (_COMPLAINT_ID.match(complaint_id) and _MEDIA_ID.match(media_id)):
        return None
    return f"complaints/{complaint_id}/whatsapp-{media_id}"


class EvidenceStore:
    """One S3 client for the process (its connections kept): `open` at start-up, `close` at shutdown, or
    `async with`. Opening makes no request: a store that is away refuses evidence, never a start."""

    def __init__(self, settings: EvidenceSettings) -> None:
        self.settings = settings
        self._stack = AsyncExitStack()
        self._client: Any = None

    async def __aenter__(self) -> EvidenceStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        s = self.settings
        config = AioConfig(connect_timeout=s.timeout_seconds, read_timeout=s.timeout_seconds,
                           retries={"max_attempts": 3, "mode": "standard"}, signature_version="s3v4",
                           s3={"addressing_style": "path"},
                           # botocore's newer default checksums are AWS's; not every S3-compatible store has them.
                           request_checksum_calculation="when_required",
                           response_checksum_validation="when_required")
        self._client = await self._stack.enter_async_context(get_session().create_client(
            "s3", endpoint_url=s.endpoint_url, region_name=s.region, config=config,
            aws_access_key_id=s.access_key.get_secret_value(),
            aws_secret_access_key=s.secret_key.get_secret_value()))

    async def close(self) -> None:
        await self._stack.aclose()

    async def put(self, complaint_id: str, data: bytes, content_type: str) -> str:
        """Store the bytes; the reference to put on the Attachment. Idempotent."""
        key = key_for(complaint_id, data)
        await self.put_at(key, data, content_type)
        return REFERENCE_PREFIX + key

    async def put_at(self, key: str, data: bytes, content_type: str) -> None:
        await self._client.put_object(Bucket=self.settings.bucket, Key=key, Body=data, ContentType=content_type)

    async def get(self, reference: str, complaint_id: str = "") -> Evidence:
        key = key_of(reference, complaint_id)
        if key is None:
            raise EvidenceMissing(reference)
        try:
            answer = await self._client.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise EvidenceMissing(reference) from error
            raise
        async with answer["Body"] as body:
            data = await body.read()
        return Evidence(data, answer.get("ContentType") or "application/octet-stream")
