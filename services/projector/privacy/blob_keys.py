"""Opening a sealed blob for a download: its key is in the details of the timeline entry that
lists it (erasure removes it from there, and the blob is unreadable from then on)."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.timeline.tables import TIMELINE
from shared.blobs import BlobNotFound, BlobStore
from shared.privacy.blobs import MAGIC, open_blob


async def read_blob(engine: AsyncEngine, blobs: BlobStore, sha256: str) -> bytes:
    """The plaintext of blob `sha256`; BlobNotFound when absent or no longer openable."""
    stored = await asyncio.to_thread(blobs.read, sha256)
    if not stored.startswith(MAGIC):
        return stored
    return open_blob(stored, await key_of(engine, sha256))


async def key_of(engine: AsyncEngine, sha256: str) -> str | None:
    entries = TIMELINE.entries
    query = sa.select(entries.c.details).where(sa.cast(entries.c.details, sa.Text).like(f"%{sha256}%")).limit(5)
    async with engine.connect() as conn:
        for (details,) in await conn.execute(query):
            found = _key_in(details, sha256)
            if found is not None:
                return found
    raise BlobNotFound(f"no entry lists blob {sha256} any more")


def _key_in(node: Any, sha256: str) -> str | None:
    if isinstance(node, dict):
        if node.get("sha256") == sha256 and isinstance(node.get("key"), str):
            return node["key"]
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = _key_in(item, sha256)
            if found is not None:
                return found
    return None
