"""WhatsApp media into the evidence store: Meta keeps what a citizen sent for a limited time and gives it only
to the business's token, so the notifier (which holds that token for answering) fetches each photo,
document and voice note of a complaint as a job, with the job queue's retries, and keeps a copy.

Meta's two steps ("Media": retrieve media URL, download media): GET /{media-id} with the token answers a
URL valid 5 minutes, the type, the SHA-256 (hex) and the size; GET that URL with the token answers the bytes.
The copy goes to complaints/<id>/whatsapp-<media-id> (shared/evidence.py), where the unit inbox looks.
Photos and stickers are kept as the web form's are: pixels only (shared/images.py); PDFs and office documents
without their author metadata (shared/documents.py); voice notes, videos and other files as sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx

from shared import documents
from shared.contracts import ComplaintAssigned
from shared.evidence import WHATSAPP_PREFIX, EvidenceStore, whatsapp_media_key
from shared.images import IMAGE_TYPES, without_metadata
from shared.jobs import NewJob, PermanentFailure, raise_for_http

MAX_MEDIA_BYTES = 100 * 1024 * 1024  # Meta's limit for a document; images are 5 MB, audio and video 16 MB
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def media_jobs(assigned: ComplaintAssigned) -> list[NewJob]:
    """One job per WhatsApp media of a complaint: the same media is fetched once, whatever is redelivered."""
    jobs = []
    for attachment in assigned.attachments:
        if attachment.reference.startswith(WHATSAPP_PREFIX):
            media_id = attachment.reference.removeprefix(WHATSAPP_PREFIX)
            payload = json.dumps({"complaint_id": assigned.complaint_id, "media_id": media_id})
            jobs.append(NewJob(f"whatsapp_media:{assigned.complaint_id}:{media_id}", "whatsapp_media",
                               assigned.complaint_id, payload))
    return jobs


class WhatsAppMedia:
    def __init__(self, http: httpx.AsyncClient, api_url: str, token: str, store: EvidenceStore) -> None:
        self.http, self.api_url, self.token, self.store = http, api_url.rstrip("/"), token, store

    async def keep(self, complaint_id: str, media_id: str) -> dict[str, Any]:
        key = whatsapp_media_key(complaint_id, media_id)
        if key is None:
            raise PermanentFailure("not a media id Meta gives, or not a complaint id")
        headers = {"Authorization": f"Bearer {self.token}"}
        answer = await self.http.get(f"{self.api_url}/{media_id}", headers=headers)
        if answer.status_code == 404:  # expired at Meta, or never there: no retry brings it back
            raise PermanentFailure(f"Meta no longer has media {media_id} (404)")
        raise_for_http(answer, "WhatsApp media URL")
        found = answer.json()
        mime = str(found.get("mime_type") or "application/octet-stream").split(";")[0].strip().lower()
        data = await self._download(str(found["url"]), headers)
        expected = str(found.get("sha256") or "").lower()
        if _HEX_SHA256.match(expected) and hashlib.sha256(data).hexdigest() != expected:
            raise ConnectionError("the media's bytes do not match Meta's SHA-256: a broken download, fetched again")
        if mime in IMAGE_TYPES or documents.cleans(mime):
            clean = without_metadata if mime in IMAGE_TYPES else documents.without_metadata
            cleaned = await clean(data, mime)
            if cleaned is None:  # kept as sent it could name an anonymous reporter: an operator looks at it
                raise PermanentFailure(f"media {media_id} is not a {mime} we can read and clean")
            data = cleaned
        await self.store.put_at(key, data, mime)
        return {"stored": key, "bytes": len(data), "mime_type": mime}

    async def _download(self, url: str, headers: dict[str, str]) -> bytes:
        async with self.http.stream("GET", url, headers=headers) as answer:
            if answer.status_code == 404:  # the 5-minute URL ran out between the two steps: ask for a new one
                raise ConnectionError("the media URL expired before it was fetched")
            if answer.status_code >= 400:
                await answer.aread()
            raise_for_http(answer, "WhatsApp media download")
            chunks, size = [], 0
            async for chunk in answer.aiter_bytes():
                size += len(chunk)
                if size > MAX_MEDIA_BYTES:
                    raise PermanentFailure(f"media larger than {MAX_MEDIA_BYTES} bytes")
                chunks.append(chunk)
        return b"".join(chunks)
