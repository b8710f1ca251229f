"""Timeline writers of several projector instances on one PostgreSQL database: a batch waits
for another only when both touch the same customer's rows, including rows only found by
reading (the addresses of a record being merged)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.store import entry_from_row
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.write_keys import event_keys, identifier_key, lock_keys
from services.projector.timeline.writer import TimelineWriter
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
WAIT_S = 1.5  # long enough for an unblocked write to finish many times over


@pytest.fixture
async def engine(postgres_url):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    await TimelineWriter(engine).write([
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=("+4915112345678",)),
        f.registered("K-2", "Max Beispiel", emails=("max@example.org",)),
        f.registered("K-3", "Erika M.", emails=("erika.m@example.org",)),
    ])
    yield engine
    await engine.dispose()


async def owner_of(engine, event_id) -> str | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(TIMELINE.entries).where(TIMELINE.entries.c.event_id == str(event_id)))).first()
    return entry_from_row(row._mapping).owner_id if row else None


async def test_a_batch_about_another_customer_does_not_wait_and_one_about_the_same_customer_does(engine):
    erika_mail, max_mail = f.mail(1, "erika@example.org", 1), f.mail(2, "max@example.org", 2)
    async with engine.begin() as holder:  # another writer, half-way through a batch about Erika
        await lock_keys(holder, event_keys([f.call("started", "c1", "+4915112345678", 1)]), set())
        await asyncio.wait_for(TimelineWriter(engine).write([max_mail]), WAIT_S)
        await lock_keys(holder, event_keys([erika_mail]), set())
        blocked = asyncio.create_task(TimelineWriter(engine).write([erika_mail]))
        await asyncio.sleep(WAIT_S)
        assert not blocked.done()
    await asyncio.wait_for(blocked, 30)
    assert await owner_of(engine, erika_mail.event_id) == customer_id_for("K-1")
    assert await owner_of(engine, max_mail.event_id) == customer_id_for("K-2")


async def test_a_merge_waits_for_a_batch_holding_an_address_it_only_finds_by_reading(engine):
    """Merging K-3 into K-1 moves the history of K-3's address, which the merge event does not
    name: the writer finds it in the database, locks it, and reads again once it may."""
    merge = f.merged("K-3", "K-1", minute=5)
    async with engine.begin() as holder:
        await lock_keys(holder, {identifier_key(("email", "erika.m@example.org"))}, set())
        blocked = asyncio.create_task(TimelineWriter(engine).write([merge]))
        await asyncio.sleep(WAIT_S)
        assert not blocked.done()
    await asyncio.wait_for(blocked, 30)


async def test_mail_written_while_its_sender_is_merged_ends_on_the_merged_record(engine):
    """Written side by side, in whichever order the database lets them finish, the mail of
    K-3's address ends up on K-1's timeline, as if the two batches had run one after the other."""
    mails = [f.mail(10 + n, "erika.m@example.org", 6 + n) for n in range(20)]
    writers = [TimelineWriter(engine) for _ in range(2)]
    await asyncio.gather(writers[0].write([f.merged("K-3", "K-1", minute=5)]),
                         *(writers[1].write([mail]) for mail in mails))
    assert {await owner_of(engine, mail.event_id) for mail in mails} == {customer_id_for("K-1")}


async def test_locked_keys_old_and_new_are_held_until_commit_and_old_ones_are_not_rewritten(engine):
    old = identifier_key(("email", "erika@example.org"))  # locked, hence stored, by the fixture's registration
    new = identifier_key(("email", "nobody-yet@example.org"))
    async with engine.connect() as conn:
        version_before = (await conn.execute(text("SELECT xmin::text FROM timeline_write_keys WHERE key = :k"), {"k": old})).scalar_one()
    async with engine.begin() as holder:
        await lock_keys(holder, {old, new}, set())
        for key in (old, new):
            async with engine.begin() as other:  # another writer wanting the key waits for the holder
                await other.execute(text("SET LOCAL lock_timeout = '300ms'"))
                with pytest.raises(DBAPIError, match="lock timeout"):
                    await lock_keys(other, {key}, set())
    async with engine.connect() as conn:
        rows = dict((await conn.execute(text("SELECT key, xmin::text FROM timeline_write_keys WHERE key IN (:a, :b)"),
                                        {"a": old, "b": new})).all())
    assert rows.keys() == {old, new}
    assert rows[old] == version_before  # the lock wrote no new version of a key row that existed
