"""The consent writer and step on a SQLite file: a batch is applied once (read again it changes
nothing), its positions are stored with it, master data is passed over, and a record that is
no event goes to `deadletter.consents` while the rest is written."""

from __future__ import annotations

import sqlalchemy as sa
import pytest

from events.codec import encode
from services.projector.consent.tables import consent_history, consent_states
from services.projector.consent.writer import PROJECTION, ConsentWriter, consent_step
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.db.tracking import load_offsets
from shared.kafka.consumer import decode_record
from shared.kafka.follower import as_batch
from shared.kafka.publisher import InMemoryPublisher
from tests import timeline_factories as f
from tests.unit.test_consent_projection import from_form

CONSENTS = "touchpoint.consents"


@pytest.fixture
async def engine(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'consent.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    yield engine
    await engine.dispose()


async def rows(engine, table) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


def records(*values: bytes):
    return as_batch([decode_record(CONSENTS, 0, offset, b"k", value) for offset, value in enumerate(values)])


async def test_a_batch_read_twice_is_applied_once_with_its_positions(engine):
    step = consent_step(ConsentWriter(engine), InMemoryPublisher(), "touchpoint.")
    batch = records(encode(from_form()), encode(f.registered("K-1", "Erika")))
    await step.handle(batch)
    await step.handle(batch)
    assert await rows(engine, consent_history) == 1 and await rows(engine, consent_states) == 1
    async with engine.connect() as conn:
        assert await load_offsets(conn, PROJECTION) == {(CONSENTS, 0): 2}


async def test_a_record_that_is_no_event_is_dead_lettered_and_the_rest_written(engine):
    deadletters = InMemoryPublisher()
    step = consent_step(ConsentWriter(engine), deadletters, "touchpoint.")
    await step.handle(records(b"{not an event", encode(from_form())))
    [(topic, value, _key, _headers)] = deadletters.raw
    assert (topic, value) == ("touchpoint.deadletter.consents", b"{not an event")
    assert await rows(engine, consent_history) == 1
