"""Opaque timeline cursors: the (occurred_at, id) of the last entry of a page."""

from __future__ import annotations

import base64
from datetime import datetime

from services.projector.timeline.rows import utc


class BadCursor(ValueError):
    pass


def encode_cursor(occurred_at: datetime, entry_id: str) -> str:
    raw = f"{utc(occurred_at).isoformat()}|{entry_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, entry_id = raw.split("|", 1)
        return utc(datetime.fromisoformat(stamp)), entry_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor(str(exc)) from None
