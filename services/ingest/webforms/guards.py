"""What protects a public form besides its honeypot: the origins that may post to it
(also answered as CORS headers to browsers) and a per-IP rate limit."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

from shared.config import FormWebhook


def request_origin(origin_header: str | None, referer: str | None) -> str | None:
    """The page's origin: the Origin header, else the origin of the Referer."""
    if origin_header and origin_header != "null":
        return origin_header.rstrip("/")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def origin_allowed(origin: str | None, config: FormWebhook) -> bool:
    """Without configured origins any page may post; with them, only those pages."""
    if not config.allowed_origins:
        return True
    return origin is not None and origin in {o.rstrip("/") for o in config.allowed_origins}


class RateLimiter:
    """A sliding one-minute window of submissions per (form, client address).

    In-process by design: each ingest process limits on its own, which is what stops one
    client flooding a form; `clock` is injectable so tests need not sleep."""

    WINDOW_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def allow(self, form_id: str, client: str, per_minute: int) -> float | None:
        """None when allowed (and counted); else the seconds until the next one is allowed."""
        if per_minute <= 0:
            return None
        now = self._clock()
        hits = self._hits.setdefault((form_id, client), deque())
        while hits and now - hits[0] >= self.WINDOW_SECONDS:
            hits.popleft()
        if len(hits) >= per_minute:
            return self.WINDOW_SECONDS - (now - hits[0])
        hits.append(now)
        if len(self._hits) > self._max_keys:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or now - hits[-1] >= self.WINDOW_SECONDS]:
            del self._hits[key]
