"""Database smoke test on both backends: migrations apply, twice, and a write commits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async

pytestmark = pytest.mark.integration


async def test_migrations_apply_idempotently_and_tracking_rows_commit(db_url):
    await upgrade_async(db_url)
    await upgrade_async(db_url)  # second run is a no-op
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO projection_offsets (projection, topic, partition, next_offset, updated_at) "
                     "VALUES ('timeline', 'touchpoint.calls', 0, 42, :now)"),
                {"now": datetime.now(UTC)},
            )
        async with engine.connect() as conn:
            offset = (await conn.execute(text("SELECT next_offset FROM projection_offsets"))).scalar_one()
        assert offset == 42
    finally:
        await engine.dispose()


def test_a_sqlite_migration_refused_as_locked_is_run_again(tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from shared.db import migrate

    calls = []
    real = migrate.command.upgrade

    def flaky(config, revision):  # type: ignore[no-untyped-def]
        calls.append(revision)
        if len(calls) == 1:
            raise OperationalError("BEGIN", {}, Exception("database is locked"))
        return real(config, revision)

    monkeypatch.setattr(migrate.command, "upgrade", flaky)
    migrate.upgrade(f"sqlite+aiosqlite:///{tmp_path / 'tp.db'}")
    assert calls == ["heads", "heads"]


async def test_upgrading_moves_the_timelines_applied_events_beside_its_rows_and_leaves_the_others(db_url):
    await upgrade_async(db_url, "0014_timeline_write_keys")
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO applied_events (projection, event_id) VALUES "
                                    "('timeline', 'e-1'), ('timeline', 'e-2'), ('complaint-detector', 'e-1')"))
        await upgrade_async(db_url)
        async with engine.connect() as conn:
            moved = (await conn.execute(text("SELECT event_id FROM timeline_applied_events ORDER BY 1"))).scalars().all()
            kept = (await conn.execute(text("SELECT projection, event_id FROM applied_events"))).all()
        assert moved == ["e-1", "e-2"]
        assert [tuple(row) for row in kept] == [("complaint-detector", "e-1")]
    finally:
        await engine.dispose()
