"""The time control of the customer page: the timeline and its complaints as they were
recorded at an instant (see `api/asof.py`), and a step back to before the last change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from services.projector.api import asof
from services.projector.complaints.policy import SlaRules


@dataclass(frozen=True)
class TimeControl:
    at: datetime | None = None  # None: now, live
    back: str | None = None  # the instant one step back, ISO-8601
    local: str = ""  # `at` for the datetime-local field, in the page's zone
    complaints: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def iso(self) -> str:
        return self.at.isoformat() if self.at else ""


def page_instant(text: str, zone: ZoneInfo) -> datetime | None:
    """An ISO-8601 instant; one without a zone (the datetime-local field) is in the page's zone."""
    if not text.strip():
        return None
    try:
        return asof.parse_instant(text)
    except asof.BadInstant:
        try:
            local = datetime.fromisoformat(text.strip())
            if local.tzinfo is None:
                return local.replace(tzinfo=zone).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
        raise asof.BadInstant(f"{text!r} is not a date and time") from None


async def time_control(conn: AsyncConnection, owner_id: str, at: datetime | None, zone: ZoneInfo, rules: SlaRules,
                       error: str | None = None) -> TimeControl:
    back = await asof.previous_change(conn, owner_id, at or datetime.now(UTC))
    if at is None:
        return TimeControl(back=back.isoformat() if back else None, error=error)
    return TimeControl(at=at, back=back.isoformat() if back else None,
                       local=at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds"),
                       complaints=await asof.complaint_states(conn, owner_id, at, rules))

