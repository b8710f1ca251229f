"""The key store in a real (SQLite) database: one key per subject and year, shared by every
process, wrapped by the master key; destroying it makes it unreadable for everyone."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from shared.db.engine import make_engine
from shared.db.migrate import upgrade
from shared.privacy.master import MasterKey
from shared.privacy.store import KeyTable, SyncKeyStore, WrongMasterKey, privacy_keys

MASTER = MasterKey.from_bytes(bytes(range(32)))
OTHER_MASTER = MasterKey.from_bytes(bytes(range(1, 33)))


@pytest.fixture
def url(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    upgrade(url)
    return url


@pytest.fixture
def stores(url):
    made = []

    def make(master: MasterKey = MASTER) -> SyncKeyStore:
        made.append(SyncKeyStore(url, master))
        return made[-1]

    yield make
    for store in made:
        store.close()


def destroy(url: str, subjects: list[str]) -> int:
    async def go() -> int:
        engine = make_engine(url)
        try:
            return await KeyTable(engine, MASTER).destroy(subjects)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_two_processes_get_the_same_key_for_a_subject_and_year(stores):
    ingest, projector = stores(), stores()
    key_id, key = ingest.key_for("contact:abc", "2026")
    assert projector.key_for("contact:abc", "2026") == (key_id, key)
    assert projector.key_by_id(key_id) == key
    assert ingest.key_for("contact:abc", "2027")[0] != key_id


def test_the_database_holds_keys_only_wrapped(stores, url):
    _, key = stores().key_for("contact:abc", "2026")

    async def wrapped() -> bytes:
        engine = make_engine(url)
        async with engine.connect() as conn:
            value = (await conn.execute(sa.select(privacy_keys.c.wrapped))).scalar_one()
        await engine.dispose()
        return value

    assert key not in asyncio.run(wrapped())


def test_a_destroyed_key_opens_nothing_once_forgotten_or_in_a_fresh_process(stores, url):
    projector = stores()
    key_id, _ = stores().key_for("contact:gone", "2026")
    assert projector.key_by_id(key_id) is not None
    assert destroy(url, ["contact:gone"]) == 1
    projector.forget(["contact:gone"])
    assert projector.key_by_id(key_id) is None
    assert stores().key_by_id(key_id) is None


def test_keys_made_after_a_bulk_load_are_still_found(stores):
    reader, writer = stores(), stores()
    first, _ = writer.key_for("contact:one", "2026")
    assert reader.key_by_id(first) is not None  # loads every key at once
    later, key = writer.key_for("contact:two", "2026")
    assert reader.key_by_id(later) == key


def test_a_key_under_another_master_key_is_a_configuration_error_not_bad_input(stores):
    key_id, _ = stores().key_for("contact:abc", "2026")
    with pytest.raises(WrongMasterKey, match="wrong master_key_file"):
        stores(OTHER_MASTER).key_by_id(key_id)


def test_keys_of_many_subjects_come_in_one_round_trip_and_match_those_made_one_by_one(stores):
    store, other = stores(), stores()
    one_by_one = other.key_for("contact:a", "2026")
    store.prepare([("contact:a", "2026"), ("contact:b", "2026"), ("contact:b", "2026")])
    assert store.cached("contact:a", "2026") and store.cached("contact:b", "2026")
    assert store.key_for("contact:a", "2026") == one_by_one
    assert other.key_for("contact:b", "2026") == store.key_for("contact:b", "2026")


async def test_a_key_is_found_while_this_process_holds_the_sqlite_write_lock(stores, url):
    """A service seals the events it derives inside its own write transaction; on SQLite that
    transaction holds the database's write lock, and looking the key up must not wait for it."""
    made = stores().key_for("contact:erika", "2026")
    fresh = stores()
    fresh.query_timeout = 5.0
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.select(sa.func.count()).select_from(privacy_keys))
            assert fresh.key_for("contact:erika", "2026") == made
    finally:
        await engine.dispose()


def test_a_command_run_before_any_service_creates_the_key_table_it_needs(tmp_path):
    """`touchpoint customers import` on a new data folder seals events before any service has
    migrated the database."""
    fresh = SyncKeyStore(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", MASTER)
    try:
        key_id, key = fresh.key_for("customer:c-1", "2026")
        assert fresh.key_by_id(key_id) == key
    finally:
        fresh.close()
