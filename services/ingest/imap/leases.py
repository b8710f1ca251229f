"""Folder leases: several `touchpoint imap` instances share the configured folders evenly, and
two never fetch the same one.

An instance fetches a folder only while it holds the folder's lease in the database. Every
third of the lease time it renews its leases and its own heartbeat, counts the live instances,
and moves towards its fair share (folders / instances, the remainder going to the first
instances by name): it takes free or expired folders while below it and hands folders back
while above it. A renewal that fails stops that folder's
watcher at once. A killed instance's folders go to the others once its leases expire."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

metadata = sa.MetaData()

folder_leases = sa.Table(
    "imap_folder_leases", metadata,
    sa.Column("mailbox", sa.String(128), primary_key=True),
    sa.Column("folder", sa.String(512), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

instances = sa.Table(
    "imap_instances", metadata,
    sa.Column("owner", sa.String(200), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

Folder = tuple[str, str]  # (mailbox, folder)


def instance_name() -> str:
    """Unique per process, readable in logs: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class FolderLeases:
    def __init__(self, engine: AsyncEngine, owner: str, ttl: timedelta,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.owner = owner
        self.ttl = ttl
        self.clock = clock

    def _upsert(self, table: sa.Table, keys: list[str], where: sa.ColumnElement[bool] | None, **values):  # type: ignore[no-untyped-def]
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(table)
        statement = insert.values(**values)
        return statement.on_conflict_do_update(
            index_elements=keys, set_={"owner": statement.excluded.owner, "expires_at": statement.excluded.expires_at},
            where=where,
        )

    async def acquire(self, folder: Folder) -> bool:
        """Takes or renews the lease: True when this instance holds it until now + ttl."""
        now = self.clock()
        statement = self._upsert(
            folder_leases, ["mailbox", "folder"],
            sa.or_(folder_leases.c.owner == self.owner, folder_leases.c.expires_at < now),
            mailbox=folder[0], folder=folder[1], owner=self.owner, expires_at=now + self.ttl,
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    async def release(self, folder: Folder) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(folder_leases.delete().where(
                folder_leases.c.mailbox == folder[0], folder_leases.c.folder == folder[1],
                folder_leases.c.owner == self.owner))

    async def heartbeat(self) -> list[str]:
        """Marks this instance alive until now + ttl; returns the live instances, sorted."""
        now = self.clock()
        async with self.engine.begin() as conn:
            await conn.execute(self._upsert(instances, ["owner"], None, owner=self.owner, expires_at=now + self.ttl))
            await conn.execute(instances.delete().where(instances.c.expires_at < now - self.ttl))
            alive = (await conn.scalars(sa.select(instances.c.owner).where(instances.c.expires_at >= now))).all()
        return sorted(set(alive) | {self.owner})

    async def leave(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(instances.delete().where(instances.c.owner == self.owner))

    async def holders(self) -> dict[Folder, str]:
        now = self.clock()
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(folder_leases).where(folder_leases.c.expires_at >= now))).all()
        return {(row.mailbox, row.folder): row.owner for row in rows}


def fair_share(folders: int, alive: list[str], owner: str) -> int:
    """Each of k instances holds folders // k; the first folders % k (by name) one more, so
    the shares add up to the folders whichever instance computes them."""
    base, extra = divmod(folders, len(alive))
    return base + (1 if alive.index(owner) < extra else 0)


@dataclass
class _Running:
    until: asyncio.Event
    task: asyncio.Task


class LeasedFolders:
    """Runs `work(folder, until)` for each folder this instance holds, until `stop`. `until` is
    set when the lease is lost or handed back, or at stop; `work` must return soon after."""

    def __init__(self, leases: FolderLeases, folders: list[Folder],
                 work: Callable[[Folder, asyncio.Event], Awaitable[None]]) -> None:
        self.leases = leases
        self.folders = folders
        self.work = work
        self.running: dict[Folder, _Running] = {}

    @property
    def interval(self) -> float:
        return self.leases.ttl.total_seconds() / 3

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.rebalance()
                except (OSError, DBAPIError) as exc:  # the database is away: fetch nothing rather than twice
                    log.warning("cannot reach the lease tables (%s); not fetching until the database answers", exc)
                    await self._hand_back(list(self.running), release=False)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
        finally:
            await self._hand_back(list(self.running), release=True)
            with contextlib.suppress(OSError, DBAPIError):
                await self.leases.leave()

    async def rebalance(self) -> None:
        share = fair_share(len(self.folders), await self.leases.heartbeat(), self.leases.owner)
        for folder in list(self.running):
            if self.running[folder].task.done() or not await self.leases.acquire(folder):
                log.warning("%s/%s: lease lost; another instance takes the folder over", *folder)
                await self._hand_back([folder], release=False)
        surplus = list(self.running)[share:]
        if surplus:
            log.info("handing back %d folder(s) to the other instances", len(surplus))
            await self._hand_back(surplus, release=True)
        for folder in self._candidates():
            if len(self.running) >= share:
                break
            if await self.leases.acquire(folder):
                log.info("%s/%s: lease taken by %s", *folder, self.leases.owner)
                until = asyncio.Event()
                self.running[folder] = _Running(until, asyncio.create_task(self.work(folder, until)))

    def _candidates(self) -> list[Folder]:
        # start the search at a different folder per instance, so instances rarely race for one
        free = [folder for folder in self.folders if folder not in self.running]
        start = sum(self.leases.owner.encode()) % len(free) if free else 0
        return free[start:] + free[:start]

    async def _hand_back(self, folders: list[Folder], release: bool) -> None:
        for folder in folders:
            running = self.running.pop(folder)
            running.until.set()
            with contextlib.suppress(Exception):  # a watcher logs its own failures
                await running.task
            if release:
                with contextlib.suppress(OSError, DBAPIError):
                    await self.leases.release(folder)
