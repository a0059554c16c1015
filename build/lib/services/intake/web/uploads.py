"""Photos from the web form, stored in the web intake's own schema."""

from __future__ import annotations

import uuid

import asyncpg

from services.intake.web.form import Photo


class UploadRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def store(self, complaint_id: str, photo: Photo) -> str:
        """The upload's id: the same photo on a resubmitted form is stored once."""
        upload_id = str(uuid.uuid5(uuid.UUID(complaint_id), photo.sha256))
        await self.pool.execute(
            """INSERT INTO uploads (upload_id, complaint_id, mime_type, sha256, size_bytes, data)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (upload_id) DO NOTHING""",
            upload_id, complaint_id, photo.mime_type, photo.sha256, len(photo.data), photo.data)
        return upload_id
