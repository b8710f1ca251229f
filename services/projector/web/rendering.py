"""Jinja2 templates of the web pages and the small helpers they use (times, durations)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.projector.web.labels import Labels, pick_language
from services.projector.web.session import Session

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def short_time(value: str | datetime | None, zone: ZoneInfo) -> str:
    if not value:
        return ""
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    local = stamp.astimezone(zone)
    today = datetime.now(zone).date()
    return local.strftime("%H:%M:%S") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")


def duration(seconds: float | int | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    sign = "−" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m {secs:02d}s"


def size(value: int | None) -> str:
    if value is None:
        return ""
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024  # type: ignore[assignment]
    return str(value)


class Pages:
    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters["time"] = lambda v: short_time(v, self.zone)
        self.env.filters["duration"] = duration
        self.env.filters["size"] = size

    def labels_for(self, request: Request, session: Session | None) -> Labels:
        preferred = session.principal.language if session else None
        return Labels(pick_language(preferred, request.headers.get("accept-language")))

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.fragment(request, name, **context), status_code=status)

    def fragment(self, request: Request, name: str, **context: Any) -> str:
        session: Session | None = getattr(request.state, "session", None)
        labels = context.pop("labels", None) or self.labels_for(request, session)
        return self.env.get_template(name).render(
            request=request, session=session, user=session.principal if session else None,
            csrf=session.csrf if session else "", t=labels, lang=labels.language, **context,
        )
