"""Reading the access audit: a customer's records, latest first, a page at a time (keyset
cursor on time and event id), and all of them for an export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.projector.api.cursor import BadCursor, decode_cursor, encode_cursor
from services.projector.audit.tables import access_audit as A
from services.projector.timeline.rows import utc

__all__ = ["AuditPage", "BadCursor", "all_records", "page_of"]


@dataclass(frozen=True)
class AuditPage:
    records: list[dict[str, Any]]
    next_cursor: str | None


def record_json(row: Any) -> dict[str, Any]:
    return {"event_id": row.event_id, "accessed_at": utc(row.accessed_at).isoformat(), "user": row.user_name,
            "role": row.role, "resource": row.resource, "entry_id": row.entry_id, "blob_sha256": row.blob_sha256,
            "client_address": row.client_address, "via": row.via}


def _latest_first(customer_id: str) -> sa.Select[Any]:
    return sa.select(A).where(A.c.customer_id == customer_id).order_by(A.c.accessed_at.desc(), A.c.event_id)


async def page_of(conn: AsyncConnection, customer_id: str, limit: int = 20, before: str | None = None) -> AuditPage:
    """`before`: the `next_cursor` of the previous page (BadCursor when it is not one)."""
    query = _latest_first(customer_id)
    if before:
        at, event_id = decode_cursor(before)
        # the bounded form keeps the index range scan (see the timeline's keyset paging)
        query = query.where(A.c.accessed_at <= at, sa.or_(A.c.accessed_at < at, A.c.event_id > event_id))
    rows = (await conn.execute(query.limit(limit + 1))).all()
    page = [record_json(row) for row in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return AuditPage(page, encode_cursor(utc(last.accessed_at), last.event_id) if last is not None else None)


async def all_records(conn: AsyncConnection, customer_id: str) -> list[dict[str, Any]]:
    return [record_json(row) for row in await conn.execute(_latest_first(customer_id))]
