"""The one writer of the timeline read model.

`write(batch)` commits, in ONE transaction, the rows the events change and the tracking
records (applied event ids, in the timeline's own table, and next offsets per partition), plus each entry's new state as a
version under its event's recorded time (what the timeline "as of" an instant reads). An event
already tracked is skipped, so redelivery, a crash between two batches and a restart change
nothing. Writers of several projector instances run side by side and wait for each other only
on the keys of the rows they share (`write_keys`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.envelope import Event
from events.privacy import CustomerErased, PrivacyExpired
from services.projector.metrics import BATCH_SIZE, DUPLICATES_SKIPPED, EVENTS_APPLIED, LAG_SECONDS
from services.projector.privacy.redaction import expire_late_arrivals, redact, restrict_late_arrivals
from services.projector.timeline.projection import PROJECTION, apply
from services.projector.timeline.rows import EntryRow
from services.projector.timeline.store import load_view, write_changes, write_versions
from services.projector.timeline.tables import TIMELINE, TimelineTables
from services.projector.timeline.view import Change
from services.projector.timeline.write_keys import event_keys, lock_keys, view_keys
from shared.db.tracking import claim_unapplied_in, first_of_each, store_offsets

Position = tuple[str, int]
# Writers hold it shared, so they never wait for each other; swapping in a rebuilt timeline
# holds it exclusively, so no writer is half-way through the old tables then.
ADVISORY_LOCK = 0x7470_7469  # "tpti"


BULK_BATCH = 500  # events in a batch of a catch-up or rebuild; live ones hold tens

REDACTING = (CustomerErased, PrivacyExpired)  # events that end data the read model holds


def split_at_erasures(events: list[Event]) -> list[tuple[list[Event], Event | None]]:
    """The batch cut after each erasure or expiry: what came before is written, then redacted."""
    parts: list[tuple[list[Event], Event | None]] = []
    current: list[Event] = []
    for event in events:
        if isinstance(event, REDACTING):
            parts.append((current, event))
            current = []
        else:
            current.append(event)
    parts.append((current, None))
    return parts


@dataclass(frozen=True)
class WriteResult:
    applied: int
    skipped: int


class TimelineWriter:
    def __init__(self, engine: AsyncEngine, tables: TimelineTables = TIMELINE, projection: str = PROJECTION,
                 alone: bool = False) -> None:
        """`alone`: no other writer touches these tables (a rebuild's fresh ones), so no row keys are locked."""
        self.engine, self.tables, self.projection, self.alone = engine, tables, projection, alone
        self._written = 0  # rows written by this writer, and at the last ANALYZE
        self._analyzed_at = 0

    async def write(self, events: Sequence[Event], next_offsets: Mapping[Position, int] | None = None) -> WriteResult:
        """Applies the events not applied before, in order; returns how many it applied and skipped.

        A batch that erases or expires data runs alone: redaction rewrites rows by customer and
        period, whichever keys other batches hold."""
        async with self.engine.begin() as conn:
            await self.lock(conn, shared=not any(isinstance(event, REDACTING) for event in events))
            todo = await self._apply(conn, events, next_offsets or {})
        self.observe(todo, len(events) - len(todo))
        return WriteResult(applied=len(todo), skipped=len(events) - len(todo))

    async def _apply(self, conn: AsyncConnection, events: Sequence[Event], next_offsets: Mapping[Position, int]) -> list[Event]:
        todo: list[Event] = first_of_each(events, await claim_unapplied_in(
            conn, self.tables.applied, (str(e.event_id) for e in events)))
        changes: list[Change] = []
        held: set[int] = set()  # row keys locked in this transaction
        for segment, erasure in split_at_erasures(todo):
            applied = await self.apply_segment(conn, segment, held)
            # what a restriction or an expiry ended stays ended for entries written again or late
            await restrict_late_arrivals(conn, self.tables, {c.id for c in applied if isinstance(c, EntryRow)})
            changes += applied
            if erasure is not None:
                await redact(conn, self.tables, erasure)
        await expire_late_arrivals(conn, self.tables, todo)
        await store_offsets(conn, self.projection, next_offsets)
        await self.analyze_when_grown(conn, len(changes), len(events))
        return todo

    async def apply_segment(self, conn: AsyncConnection, events: list[Event], held: set[int]) -> list[Change]:
        """Reads what the events need and folds them in; when what was read or folded names a
        row whose key this transaction does not hold yet, locks it and reads again, so what is
        written was computed from rows no other writer can change meanwhile."""
        if not events:
            return []
        locking = conn.dialect.name == "postgresql" and not self.alone  # SQLite has one writer at a time
        if locking:
            await lock_keys(conn, event_keys(events), held)
        while True:
            view = await load_view(conn, self.tables, events)
            changes = []
            versions: list[tuple[EntryRow, datetime]] = []  # each entry state by recorded time, for as-of reads
            for event in events:
                produced = apply(event, view)
                view.record(produced)
                changes += produced
                versions += [(change, event.recorded_at) for change in produced if isinstance(change, EntryRow)]
            if not (locking and await lock_keys(conn, view_keys(view), held)):
                break
        await write_changes(conn, self.tables, changes)
        await write_versions(conn, self.tables, versions)
        return changes

    async def lock(self, conn: AsyncConnection, shared: bool = False) -> None:
        if conn.dialect.name == "postgresql":
            function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            await conn.execute(text(f"SELECT {function}(:key)"), {"key": ADVISORY_LOCK})

    async def analyze_when_grown(self, conn: AsyncConnection, rows: int, events: int) -> None:
        """PostgreSQL plans the batch lookups from table statistics; while a catch-up or rebuild
        fills tables far faster than autovacuum re-analyses them, stale statistics turn index
        lookups into scans. Re-analyse each time the rows written doubled (O(log n) times), in a
        bulk batch only: live batches are small, autovacuum keeps up with them, and an ANALYZE
        inside one held it back for most of a second."""
        self._written += rows
        if conn.dialect.name != "postgresql" or events < BULK_BATCH or self._written < 2 * self._analyzed_at + 5000:
            return
        self._analyzed_at = self._written
        for table in self.tables.all():
            await conn.execute(text(f"ANALYZE {table.name}"))

    def observe(self, applied: list[Event], skipped: int) -> None:
        BATCH_SIZE.labels(self.projection).observe(len(applied) + skipped)
        if skipped:
            DUPLICATES_SKIPPED.labels(self.projection).inc(skipped)
        for event in applied:
            EVENTS_APPLIED.labels(self.projection, event.type).inc()
        if applied:
            newest = max(event.occurred_at for event in applied)
            LAG_SECONDS.labels(self.projection).set((datetime.now(UTC) - newest).total_seconds())
