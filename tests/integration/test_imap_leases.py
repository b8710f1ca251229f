"""IMAP folder leases in the real database: one holder per folder, expiry hands a dead
instance's folders over, and live instances share the folders evenly without ever working on
one folder at the same time."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.imap.leases import FolderLeases, LeasedFolders
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async

pytestmark = pytest.mark.integration

INBOX = ("support", "INBOX")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_lease_has_one_holder_until_it_expires(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    clock = Clock()
    a = FolderLeases(engine, "a", timedelta(seconds=30), clock)
    b = FolderLeases(engine, "b", timedelta(seconds=30), clock)
    try:
        assert await a.acquire(INBOX)
        assert not await b.acquire(INBOX)
        clock.now += timedelta(seconds=20)
        assert await a.acquire(INBOX)  # renewed: good for another 30 s
        clock.now += timedelta(seconds=20)
        assert not await b.acquire(INBOX)
        clock.now += timedelta(seconds=11)  # a stopped renewing 31 s ago
        assert await b.acquire(INBOX)
        assert not await a.acquire(INBOX)
        await a.release(INBOX)  # not a's to release
        assert await a.holders() == {INBOX: "b"}
        await b.release(INBOX)
        assert await a.acquire(INBOX)
    finally:
        await engine.dispose()


async def test_instances_share_folders_evenly_never_overlap_and_survivors_take_over(postgres_url):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    folders = [("support", "INBOX"), ("support", "Sent"), ("sales", "INBOX"), ("sales", "Sent")]
    working: dict[tuple[str, str], list[str]] = {folder: [] for folder in folders}
    overlaps: list[tuple[str, str]] = []

    def worker(owner: str):
        async def work(folder, until: asyncio.Event) -> None:
            if working[folder]:
                overlaps.append(folder)
            working[folder].append(owner)
            try:
                await until.wait()
            finally:
                working[folder].remove(owner)
        return work

    def instance(owner: str) -> tuple[LeasedFolders, asyncio.Event, asyncio.Task]:
        leased = LeasedFolders(FolderLeases(engine, owner, timedelta(seconds=1.5)), folders, worker(owner))
        stop = asyncio.Event()
        return leased, stop, asyncio.create_task(leased.run(stop))

    async def until(condition, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"not reached in {timeout} s: {working}"
            await asyncio.sleep(0.05)

    def held_by(owner: str) -> int:
        return sum(owners == [owner] for owners in working.values())

    try:
        a, stop_a, task_a = instance("a")
        await until(lambda: held_by("a") == 4)  # alone, it takes every folder
        b, stop_b, task_b = instance("b")
        await until(lambda: held_by("a") == 2 and held_by("b") == 2)  # a hands two back to b
        c, stop_c, task_c = instance("c")
        await until(lambda: sum(map(held_by, "abc")) == 4 and all(held_by(o) <= 2 for o in "abc") and held_by("c") >= 1)

        async def nothing(*_args) -> None:
            return None

        b.leases.release = nothing  # killed: it neither hands its folders back nor leaves,
        b.leases.leave = nothing  # so the others wait for its leases and heartbeat to expire
        task_b.cancel()
        await asyncio.gather(task_b, return_exceptions=True)
        await until(lambda: held_by("a") + held_by("c") == 4 and held_by("a") == 2)

        stop_c.set()  # a clean stop hands its folders back at once
        await task_c
        await until(lambda: held_by("a") == 4, timeout=5)
        stop_a.set()
        await task_a
    finally:
        await engine.dispose()
    assert overlaps == []
    assert all(owners == [] for owners in working.values())

