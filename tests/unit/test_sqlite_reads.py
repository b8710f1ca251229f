"""On SQLite, transactions of `make_engine` take the write lock up front; those of `reading(engine)`
only read, and a page must not wait for a projector's open write transaction."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from shared.db.engine import make_engine, reading


@pytest.fixture
async def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'reads.db'}")
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE entries (id INTEGER PRIMARY KEY, text TEXT)"))
        await conn.execute(sa.text("INSERT INTO entries (text) VALUES ('committed')"))
    yield engine
    await engine.dispose()


async def test_a_read_sees_the_last_commit_while_a_writer_holds_the_lock(engine):
    async with engine.begin() as writer:
        await writer.execute(sa.text("INSERT INTO entries (text) VALUES ('not yet committed')"))
        async with reading(engine).connect() as conn:
            rows = await asyncio.wait_for(conn.execute(sa.text("SELECT text FROM entries ORDER BY id")), 5.0)
            assert [row.text for row in rows] == ["committed"]


async def test_a_write_transaction_still_waits_for_the_writer_before_it(engine):
    """The reads option must not leak into the engine itself: two writers queue, neither fails."""
    async with engine.begin() as writer:
        await writer.execute(sa.text("INSERT INTO entries (text) VALUES ('first')"))

        async def second() -> None:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO entries (text) VALUES ('second')"))

        waiting = asyncio.ensure_future(second())
        await asyncio.sleep(0.5)
        assert not waiting.done()  # BEGIN IMMEDIATE waits on the lock (busy_timeout)
    await asyncio.wait_for(waiting, 10.0)
    async with reading(engine).connect() as conn:
        rows = await conn.execute(sa.text("SELECT text FROM entries ORDER BY id"))
        assert [row.text for row in rows] == ["committed", "first", "second"]
