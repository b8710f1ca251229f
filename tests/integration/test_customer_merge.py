"""Merging and unmerging customer records through the agent API, real Kafka, the projector
service and PostgreSQL: one timeline while merged; after the unmerge both records are row for
row what they would be had the merge never happened; and a rebuild from offset 0 reproduces
the live read model, merged and unmerged."""

from __future__ import annotations

import httpx
import pytest

from sqlalchemy import select

from services.projector.api.app import create_app
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.writer import TimelineWriter
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher
from tests import timeline_factories as f
from tests.infra.postgres import create_database
from tests.integration.test_projector_api import AGENT, auth_config
from tests.integration.test_projector_live import count, start_projector, stop, wait_for
from tests.integration.test_projector_rebuild import rebuild_cli, snapshot

pytestmark = pytest.mark.integration
ERIKA, ERIKA_TOO, MAX = customer_id_for("K-1"), customer_id_for("K-2"), customer_id_for("K-3")
PHONE, OLD_PHONE, SHARED = "+4915112345678", "+4930111000", "+4930222000"


def records():
    events = [
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE, SHARED)),
        f.registered("K-2", "Erika Muster", emails=("e.muster@mail.example",), phones=(SHARED,)),
        f.registered("K-3", "Max Beispiel", emails=("max@example.com",)),
        f.linked("phone", OLD_PHONE, "K-2", minute=1),  # linked to the second record before the merge
        f.complaint_opened("CP2", 2, email="e.muster@mail.example"),
        f.call("started", "shared", SHARED, 3),  # ambiguous until the two records are one
    ]
    for n in range(12):
        events += [f.mail(n, "erika@example.org" if n % 2 else "e.muster@mail.example", 10 + n),
                   f.call("started", f"c{n}", OLD_PHONE if n % 3 else PHONE, 10.5 + n)]
    return events


def while_merged():
    """What arrives for the second record's identifiers while it is merged."""
    return [f.mail(100, "e.muster@mail.example", 100), f.call("started", "late", OLD_PHONE, 101),
            f.mail(101, "max@example.com", 102)]


async def test_merge_then_unmerge_through_kafka_and_rebuilds_agree(kafka_settings, postgres, postgres_url):
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(kafka_settings.bootstrap_servers, kafka_settings.topic_prefix)
    app = create_app(kafka_settings.model_copy(update={"file": auth_config()}), engine=engine, publisher=publisher)
    process = start_projector(kafka_settings, postgres_url)
    published = 0

    async def settle(events=()) -> None:
        nonlocal published
        if events:
            await publisher.publish(list(events))
        published += len(events)
        await wait_for(lambda: applied(published), "the live projection", process, kafka_settings)

    async def applied(n: int) -> bool:
        return await count(engine, TIMELINE.applied) >= n

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                     headers=AGENT) as api:
            async def timeline(owner: str) -> list[str]:
                page = (await api.get(f"/api/customers/{owner}/timeline", params={"limit": 200})).json()
                return sorted(e["id"] for e in page["entries"])

            await settle(records())
            first, second = await timeline(ERIKA), await timeline(ERIKA_TOO)
            assert first and second and not set(first) & set(second)

            merged = await api.post(f"/api/customers/{ERIKA}/merge", json={"customer_id": ERIKA_TOO, "reason": "same person"})
            assert merged.status_code == 202 and merged.json()["type"] == "customer.merged"
            published += 1
            await settle(while_merged())

            combined = await timeline(ERIKA)
            assert set(first) | set(second) < set(combined)  # both histories, the shared call and what came meanwhile
            assert await timeline(ERIKA_TOO) == []
            profile = (await api.get(f"/api/customers/{ERIKA_TOO}")).json()
            assert profile["merged_into"]["customer_ref"] == "K-1"
            assert [m["customer_ref"] for m in (await api.get(f"/api/customers/{ERIKA}")).json()["merged"]] == ["K-2"]
            popped = (await api.get("/api/lookup", params={"phone": OLD_PHONE})).json()
            assert (popped["match"], popped["customer"]["customer_ref"]) == ("customer", "K-1")
            again = await api.post(f"/api/customers/{ERIKA}/merge", json={"customer_id": ERIKA_TOO})
            assert again.status_code == 409 and again.json()["error"] == "already_merged"

            stop(process)
            live_merged = await snapshot(engine)
            done = rebuild_cli(kafka_settings, postgres_url)
            assert done.returncode == 0, done.stderr
            assert await snapshot(engine) == live_merged

            process = start_projector(kafka_settings, postgres_url)
            unmerged = await api.post(f"/api/customers/{ERIKA_TOO}/unmerge", json={"reason": "checked again"})
            assert unmerged.status_code == 202 and unmerged.json()["type"] == "customer.unmerged"
            published += 1
            await settle()
            assert (await api.post(f"/api/customers/{ERIKA_TOO}/unmerge")).json()["error"] == "not_merged"

        stop(process)
        live = await snapshot(engine)
        # exactly as without the merge: the same events, never merged, projected elsewhere
        never_url = await create_database(postgres)
        await upgrade_async(never_url)
        never = make_engine(never_url)
        try:
            await TimelineWriter(never).write([*records(), *while_merged()])
            assert live == await snapshot(never)
        finally:
            await never.dispose()

        done = rebuild_cli(kafka_settings, postgres_url)
        assert done.returncode == 0, done.stderr
        assert await snapshot(engine) == live
    finally:
        stop(process)
        await publisher.stop()
        await engine.dispose()


async def reference_url(db_url: str, request, tmp_path) -> str:
    """A second, empty database of the same kind."""
    if db_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}"
    return await create_database(request.getfixturevalue("postgres"))


@pytest.mark.parametrize("batch", [1, 7, 1000])
async def test_the_writer_unmerges_to_the_never_merged_rows_whatever_the_batches(db_url, batch, request, tmp_path):
    events = [*records(), f.merged("K-2", "K-1", minute=50), *while_merged(), f.merged("K-2", "K-1", minute=200, unmerge=True)]
    other = await reference_url(db_url, request, tmp_path)
    for url in (db_url, other):
        await upgrade_async(url)
    engine, reference = make_engine(db_url), make_engine(other)
    try:
        for start in range(0, len(events), batch):
            await TimelineWriter(engine).write(events[start : start + batch])
        await TimelineWriter(reference).write([*records(), *while_merged()])
        assert await snapshot(engine) == await snapshot(reference)
    finally:
        await engine.dispose()
        await reference.dispose()


async def test_the_writer_shows_one_timeline_while_merged(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        writer = TimelineWriter(engine)
        await writer.write(records())
        await writer.write([f.merged("K-2", "K-1", minute=50), *while_merged()])
        e = TIMELINE.entries
        async with engine.connect() as conn:
            owners = set(await conn.scalars(select(e.c.owner_id).where(
                (e.c.email == "e.muster@mail.example") | (e.c.phone.in_([OLD_PHONE, SHARED])))))
        assert owners == {ERIKA}
    finally:
        await engine.dispose()


async def test_a_link_or_master_data_for_a_merged_record_lands_on_the_record_it_was_merged_into(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        writer = TimelineWriter(engine)
        await writer.write(records())
        await writer.write([f.merged("K-2", "K-3", minute=50)])
        await writer.write([f.merged("K-3", "K-1", minute=51)])  # a chain: K-2 -> K-3 -> K-1
        # each in a batch of its own, so only what the batch names is read from the database
        await writer.write([f.call("started", "new-number", "+4930777000", 60)])
        await writer.write([f.linked("phone", "+4930777000", "K-2", minute=61)])
        await writer.write([f.mail(200, "new@mail.example", 62)])
        await writer.write([f.registered("K-2", "Erika Muster", emails=("e.muster@mail.example", "new@mail.example"),
                                         minute=63, version="2")])
        e = TIMELINE.entries
        async with engine.connect() as conn:
            owners = set(await conn.scalars(select(e.c.owner_id).where(
                e.c.phone.in_(["+4930777000", OLD_PHONE]) | e.c.email.in_(["new@mail.example", "e.muster@mail.example"]))))
        assert owners == {ERIKA}
    finally:
        await engine.dispose()
