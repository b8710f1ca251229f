"""New and changed timeline entries, pushed to the open pages (server-sent events).

How the API learns of the projector's commits: it polls the read model, cheaply. The timeline
writer stores its next offsets in `projection_offsets` in the same transaction as the rows it
changes, so their sum is a monotonic commit counter; one small query per `interval` tells
whether anything was committed. Only then are the entries recorded since shortly before the
newest one already seen read (an index on `recorded_at` serves that), and those whose state
changed are handed to every subscriber. This works on SQLite and PostgreSQL alike, needs no
change in the writer and no extra broker client, and costs one tiny query per interval for
all open pages together. Entries that reach the read model long after they were recorded
(a projector catching up after a stop) are not pushed; a reload shows them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.api.queries import entry_json
from services.projector.timeline.projection import PROJECTION
from services.projector.timeline.rows import utc
from services.projector.timeline.tables import TIMELINE
from shared.db.tracking import projection_offsets
from shared.periodic import Periodic

log = logging.getLogger("touchpoint.web.live")
SLACK = timedelta(seconds=60)  # how far back of the newest seen entry to look for late commits
QUEUE_LIMIT = 1000
PRIME_WAIT_SECONDS = 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LiveEntry:
    owner_id: str
    entry: dict[str, Any]


def version_of(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (entry["type"], entry["recorded_at"], entry["summary"])


class CommitWatcher:
    """One poller per API process; pages subscribe with `subscription()`."""

    def __init__(self, engine: AsyncEngine, interval: float = 0.2) -> None:
        self.engine = engine
        self._subscribers: set[asyncio.Queue[LiveEntry]] = set()
        self._poller = Periodic(self._round, interval, "live feed poll")
        self._mark: tuple[int, int] | None = None
        self._newest: datetime | None = None
        self._seen: dict[str, tuple[str, str, str]] = {}
        self._primed = asyncio.Event()

    async def commit_mark(self) -> tuple[int, int]:
        p = projection_offsets
        query = select(func.count(), func.coalesce(func.sum(p.c.next_offset), 0)).where(p.c.projection == PROJECTION)
        async with self.engine.connect() as conn:
            count, total = (await conn.execute(query)).one()
        return int(count), int(total)

    async def recent_entries(self, since: datetime) -> list[tuple[str, dict[str, Any]]]:
        e = TIMELINE.entries
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(e).where(e.c.recorded_at >= since).order_by(e.c.recorded_at).limit(2000))
            return [(row.owner_id, entry_json(row._mapping)) for row in rows]

    async def prime(self) -> None:
        """Starts from the present: what is in the read model now is not news."""
        self._mark = await self.commit_mark()
        e = TIMELINE.entries
        async with self.engine.connect() as conn:
            newest = (await conn.execute(select(func.max(e.c.recorded_at)))).scalar()
        self._newest = utc(newest) if newest else None
        if self._newest is not None:
            for _, entry in await self.recent_entries(self._newest - SLACK):
                self._seen[entry["id"]] = version_of(entry)

    async def poll(self) -> list[LiveEntry]:
        mark = await self.commit_mark()
        if mark == self._mark:
            return []
        self._mark = mark
        since = (self._newest - SLACK) if self._newest else EPOCH
        changed: list[LiveEntry] = []
        for owner_id, entry in await self.recent_entries(since):
            stamp = datetime.fromisoformat(entry["recorded_at"])
            self._newest = max(self._newest, stamp) if self._newest else stamp
            if self._seen.get(entry["id"]) != version_of(entry):
                self._seen[entry["id"]] = version_of(entry)
                changed.append(LiveEntry(owner_id, entry))
        self._forget_before(self._newest - SLACK if self._newest else None)
        return changed

    def _forget_before(self, limit: datetime | None) -> None:
        if limit is None or len(self._seen) < 5000:
            return
        cutoff = limit.isoformat()
        self._seen = {k: v for k, v in self._seen.items() if v[1] >= cutoff}

    async def _round(self) -> None:
        if not self._primed.is_set():
            await self.prime()
            self._primed.set()
        for item in await self.poll():
            for queue in list(self._subscribers):
                if queue.qsize() < QUEUE_LIMIT:
                    queue.put_nowait(item)

    def start(self) -> None:
        self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()

    async def subscribe(self) -> asyncio.Queue[LiveEntry]:
        """A queue of what is committed from now on (returns once the watcher knows "now")."""
        self.start()
        queue: asyncio.Queue[LiveEntry] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            await asyncio.wait_for(self._primed.wait(), PRIME_WAIT_SECONDS)
        except TimeoutError:
            log.warning("live feed not primed after %s s (database?); the page will get what follows", PRIME_WAIT_SECONDS)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LiveEntry]) -> None:
        self._subscribers.discard(queue)

    @asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Queue[LiveEntry]]:
        queue = await self.subscribe()
        try:
            yield queue
        finally:
            self.unsubscribe(queue)


def pops_for(item: LiveEntry, extension: str | None) -> bool:
    """A ringing inbound call offered to this extension (or user) is a screen pop."""
    entry = item.entry
    if not extension or entry["channel"] != "phone" or entry["type"] != "call.started":
        return False
    details = entry["details"]
    return details.get("direction") == "inbound" and extension in details.get("users", [])
