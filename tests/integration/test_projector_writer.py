"""The timeline writer against real SQLite and PostgreSQL: rows plus tracking in one
transaction; what lands equals the pure fold; redelivery changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.projector.privacy.redaction import RESTRICTED_SUMMARY, restricted_entries
from services.projector.timeline.entries import call_key
from services.projector.timeline.projection import apply
from services.projector.timeline.rows import contact_id_for, customer_id_for, entry_id_for
from services.projector.timeline.store import entry_from_row
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.view import MemoryView
from services.projector.timeline.writer import TimelineWriter
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
ERIKA = customer_id_for("K-1")
PHONE = "+4915112345678"


def history():
    return [
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,)),
        f.mail(1, "erika@example.org", 1),
        f.call("started", "c1", PHONE, 2),
        f.call("ended", "c1", PHONE, 3, disposition="missed"),
        f.form(1, "erika@example.org", 4),
        f.parcel("TN1", "in_transit", 5, email="erika@example.org"),
        f.parcel("TN1", "delivered", 6, email="erika@example.org"),
        f.call("started", "c2", "+4930999888", 7),
        f.linked("phone", "+4930999888", "K-1", minute=8),
        f.complaint_opened("CP1", 9, email="erika@example.org"),
        f.complaint_responded("CP1", 10),
    ]


async def stored_entries(engine):
    async with engine.connect() as conn:
        rows = await conn.execute(select(TIMELINE.entries).order_by(TIMELINE.entries.c.id))
        return [entry_from_row(row._mapping) for row in rows]


@pytest.fixture
async def engine(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


async def test_the_stored_timeline_equals_the_pure_fold_batch_by_batch(engine):
    events = history()
    writer = TimelineWriter(engine)
    for start in range(0, len(events), 3):
        await writer.write(events[start : start + 3], {("t.email", 0): start + 3})
    view = MemoryView()
    for event in events:
        view.record(apply(event, view))
    assert await stored_entries(engine) == sorted(view.entries.values(), key=lambda e: e.id)
    assert [e.summary for e in view.timeline(ERIKA)][-1] == "Mail from Erika Muster: Parcel arrived damaged"
    async with engine.connect() as conn:
        assert await load_offsets(conn, "timeline") == {("t.email", 0): 12}


async def test_redelivering_every_event_changes_nothing(engine):
    writer = TimelineWriter(engine)
    first = await writer.write(history())
    before = await stored_entries(engine)
    again = await writer.write(history() + history())
    assert (first.applied, again.applied, again.skipped) == (11, 0, 22)
    assert await stored_entries(engine) == before


async def test_linking_in_a_later_batch_moves_stored_history(engine):
    writer = TimelineWriter(engine)
    stranger = "+4930999888"
    await writer.write([f.registered("K-1", "Erika"), f.call("started", "c9", stranger, 0)])
    await writer.write([f.linked("phone", stranger, "K-1", minute=1)])
    owners = {e.entry_key: e.owner_id for e in await stored_entries(engine)}
    assert owners == {"call:cti:c9": ERIKA}
    await writer.write([f.linked("phone", stranger, "K-1", minute=2, unlink=True)])
    owners = {e.entry_key: e.owner_id for e in await stored_entries(engine)}
    assert owners == {"call:cti:c9": contact_id_for(("phone", stranger))}
    async with engine.connect() as conn:
        kinds = dict((await conn.execute(select(TIMELINE.customers.c.kind, func.count()).group_by(TIMELINE.customers.c.kind))).all())
    assert kinds == {"customer": 1, "contact": 1}


@pytest.mark.parametrize("bounce_first", [False, True])
async def test_a_bounce_stored_in_another_batch_links_to_the_mail_it_bounced(engine, bounce_first):
    sent = f.mail(1, "erika@example.org", 1, sent=True)
    bounce = f.mail(2, "erika@example.org", 2, subject="Undelivered Mail Returned to Sender", classification="bounce")
    bounce = bounce.model_copy(update={"payload": bounce.payload.model_copy(
        update={"bounced_message_id": "<m1@example.org>", "bounced_recipients": ("erika@example.org",)})})
    writer = TimelineWriter(engine)
    batches = [[f.registered("K-1", "Erika Muster", emails=("erika@example.org",))], [bounce], [sent]]
    if not bounce_first:
        batches[1:] = [[sent], [bounce]]
    for offset, batch in enumerate(batches):
        await writer.write(batch, {("t.email", 0): offset + 1})
    stored = {entry.event_id: entry for entry in await stored_entries(engine)}
    linked = stored[str(bounce.event_id)].details
    assert (linked["bounced_event_id"], linked["bounced_entry_id"]) == (str(sent.event_id), stored[str(sent.event_id)].id)


async def test_an_entry_written_again_after_a_restriction_hid_it_is_hidden_again(engine):
    writer = TimelineWriter(engine)
    started = f.call("started", "c9", PHONE, 1)
    await writer.write([history()[0], started, *[f.mail(100 + n, "erika@example.org", 2 + n) for n in range(3)]])
    call_id = entry_id_for(call_key(started))
    async with engine.begin() as conn:  # what a restriction left for entries written later
        await conn.execute(restricted_entries.insert().values(entry_id=call_id, owner_id=ERIKA,
                                                              until=datetime(2030, 1, 1, tzinfo=UTC)))
    await writer.write([f.call("ended", "c9", PHONE, 5, disposition="missed"), f.mail(200, "erika@example.org", 6)])
    entries = {entry.id: entry for entry in await stored_entries(engine)}
    assert entries[call_id].summary == RESTRICTED_SUMMARY and entries[call_id].phone is None
    assert entries[call_id].owner_id == ERIKA
    others = [entry for entry in entries.values() if entry.id != call_id]
    assert len(others) == 4 and all(entry.summary != RESTRICTED_SUMMARY for entry in others)
