"""The checkpoint store's contract, run against the in-memory fake and the real tables on
SQLite and PostgreSQL (migration 0002_imap_checkpoints)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.imap.checkpoints import Checkpoint, InMemoryCheckpointStore, PublishedMail, SqlCheckpointStore
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "sql"])
async def store(request, db_url):
    if request.param == "fake":
        yield InMemoryCheckpointStore()
        return
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    yield SqlCheckpointStore(engine)
    await engine.dispose()


async def test_an_unknown_folder_has_no_checkpoint(store):
    assert await store.load("support", "INBOX") is None


async def test_a_checkpoint_is_stored_per_mailbox_and_folder(store):
    await store.advance("support", "INBOX", Checkpoint(7, 0, T0), [], T0)
    await store.advance("support", "INBOX", Checkpoint(7, 42, T0), [PublishedMail("e-1", 41), PublishedMail("e-2", 42)], T1)
    await store.advance("sales", "INBOX", Checkpoint(9, 3, T1), [], T1)
    assert await store.load("support", "INBOX") == Checkpoint(7, 42, T0)
    assert await store.load("sales", "INBOX") == Checkpoint(9, 3, T1)
    assert await store.load("support", "Sent") is None


async def test_published_event_ids_are_remembered_across_folders(store):
    await store.advance("support", "INBOX", Checkpoint(7, 2, T0), [PublishedMail("e-1", 1), PublishedMail("e-2", 2)], T0)
    assert await store.already_published(["e-1", "e-3", "e-2"]) == {"e-1", "e-2"}
    assert await store.already_published([]) == set()


async def test_recording_an_event_id_twice_is_harmless(store):
    await store.advance("support", "INBOX", Checkpoint(7, 1, T0), [PublishedMail("e-1", 1)], T0)
    await store.advance("support", "Archive", Checkpoint(3, 5, T0), [PublishedMail("e-1", 5), PublishedMail("e-1", 5)], T1)
    assert await store.already_published(["e-1"]) == {"e-1"}
    assert await store.load("support", "Archive") == Checkpoint(3, 5, T0)


async def test_a_new_uidvalidity_replaces_the_old_checkpoint(store):
    await store.advance("support", "INBOX", Checkpoint(7, 99, T0), [], T0)
    await store.advance("support", "INBOX", Checkpoint(8, 0, T0), [], T1)
    assert await store.load("support", "INBOX") == Checkpoint(8, 0, T0)
