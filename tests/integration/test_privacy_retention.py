"""Retention and restriction on the real Kafka and PostgreSQL, with privacy on and a fake clock.

Events of two retention classes and two years are sealed under keys per subject, year and class,
published and projected. The retention job at a fake `now` shreds exactly the classes and years
whose period ended (for every subject) and the timeline shows those entries as expired; the rest
stays readable. An erasure while data is under a hold destroys only what is not held, restricts
the rest (hidden, shown "restricted", listed in the export), and the job shreds it once the hold
ends. A rebuild finds no plaintext of what was shredded."""

from __future__ import annotations

import asyncio
import zipfile
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa

from events.envelope import ActorRef, Event
from events.privacy import CustomerErased
from services.projector.api import queries
from services.projector.catchup import catch_up
from services.projector.consume import BatchProjector
from services.projector.main import serve
from services.projector.privacy.erasure import Target, erase
from services.projector.privacy.export import export
from services.projector.privacy.retention_command import retention_command
from services.projector.privacy.retention_job import expiry_records, run_retention
from services.projector.privacy.restriction import pending
from services.projector.rebuild import rebuild_timeline
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.tables import TIMELINE
from services.projector.timeline.writer import TimelineWriter
from services.projector.web.rendering import Pages
from services.projector.web.retention import retention_context
from shared.config import FileConfig, Privacy
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher
from shared.privacy.runtime import active_sealer, install, uninstall
from shared.privacy.store import privacy_keys
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
RETENTION = {"email.*": "6y", "webform.*": "2y"}
ERIKA, MAX = "erika@example.org", "max@example.org"


def in_year(event: Event, year: int) -> Event:
    moment = event.occurred_at.replace(year=year)
    return event.model_copy(update={"occurred_at": moment, "recorded_at": moment + timedelta(seconds=2)})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Hub:
    """Publishes, projects (catching up from the stored positions) and reads the timeline."""

    def __init__(self, settings, engine, publisher) -> None:  # type: ignore[no-untyped-def]
        self.settings, self.engine, self.publisher = settings, engine, publisher
        self.projector = BatchProjector(TimelineWriter(engine), publisher, settings.topic_prefix)
        self.positions: dict = {}

    async def project(self) -> None:
        self.positions = await catch_up(self.settings, self.projector, self.positions)

    async def entries(self) -> dict[str, tuple[str, str]]:
        """Event id -> (summary, type) of every entry."""
        e = TIMELINE.entries
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(e.c.event_id, e.c.summary, e.c.type, e.c.details))).all()
        return {row.event_id: (row.summary, row.type) for row in rows}

    async def page(self, customer_ref: str) -> dict[str, tuple[str, str, object]]:
        """Event id -> (summary, channel, details) of the customer's timeline, as the API reads it."""
        async with self.engine.connect() as conn:
            found = await queries.timeline_page(conn, customer_id_for(customer_ref), 100, None, None)
        return {item["event_id"]: (item["summary"], item["channel"], item["details"]) for item in found}

    async def periods(self) -> set[str]:
        async with self.engine.connect() as conn:
            return {row.period for row in await conn.execute(sa.select(privacy_keys.c.period))}


@pytest.fixture
async def hub(kafka_settings, postgres_url):  # type: ignore[no-untyped-def]
    settings = kafka_settings.model_copy(update={
        "database_url": postgres_url, "privacy_encrypt": True,
        "file": FileConfig(privacy=Privacy(encrypt=True, retention=RETENTION))})
    await upgrade_async(postgres_url)
    install(settings)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="retention-test")
    await publisher.start()
    try:
        yield Hub(settings, engine, publisher)
    finally:
        await publisher.stop()
        await engine.dispose()
        uninstall()


# the mails of 2019 (email.*, 6 years: expire 2026-01-01), a mail of 2024 (until 2031-01-01), a form
# of 2024 (webform.*, 2 years: until 2027-01-01) and a parcel of 2019 (no rule: never expires)
OLD_ERIKA = in_year(f.mail(1, ERIKA, 0, subject="Kühlschrank brummt seit 2019"), 2019)
OLD_MAX = in_year(f.mail(2, MAX, 1, subject="Max fragt 2019 nach der Rechnung"), 2019)
NEW_ERIKA = in_year(f.mail(3, ERIKA, 2, subject="Erika schreibt 2024 wieder"), 2024)
FORM_ERIKA = in_year(f.form(4, ERIKA, 3, message="Formular von Erika 2024"), 2024)
PARCEL = in_year(f.parcel("TRK2019", "delivered", 4, customer_ref="K-1"), 2019)


async def ops_section(hub: Hub) -> str:
    """The retention part of /ops as the page renders it."""
    context = await retention_context(hub.engine, hub.settings)
    return Pages("UTC").env.get_template("_retention.html").render(**context)


async def capture(hub: Hub) -> None:
    await hub.publisher.publish([
        f.registered("K-1", "Erika Muster", emails=(ERIKA,)), f.registered("K-2", "Max Mustermann", emails=(MAX,)),
        OLD_ERIKA, OLD_MAX, NEW_ERIKA, FORM_ERIKA, PARCEL])
    await hub.project()


async def test_the_job_shreds_expired_classes_of_every_subject_and_the_timeline_shows_them_expired(hub, capsys):
    await capture(hub)
    assert {"2019|email.*", "2024|email.*", "2024|webform.*", "2019"} <= await hub.periods()
    assert await run_retention(hub.engine, active_sealer().master, hub.publisher, active_sealer().retention,
                               at("2025-12-31T23:59:00")) == []

    await retention_command(hub.settings, False, "2026-01-01")  # as `touchpoint privacy retention --now` runs it
    printed = capsys.readouterr().out
    assert "shredded" in printed and "email.*" in printed and "2019" in printed
    assert "2019|email.*" not in await hub.periods() and "2019" in await hub.periods()
    await hub.project()

    entries = await hub.entries()
    assert entries[str(OLD_ERIKA.event_id)] == ("expired", "email.received")
    assert entries[str(OLD_MAX.event_id)] == ("expired", "email.received")
    assert "Erika schreibt 2024 wieder" in entries[str(NEW_ERIKA.event_id)][0]
    assert entries[str(FORM_ERIKA.event_id)][0] not in ("expired", "erased", "restricted")
    assert entries[str(PARCEL.event_id)][0] not in ("expired", "erased")
    async with hub.engine.connect() as conn:
        [record] = (await conn.execute(sa.select(expiry_records))).all()
    assert (record.retention_class, record.year, record.keys_destroyed) == ("email.*", 2019, 2)

    await retention_command(hub.settings, False, "2026-01-02")
    assert "nothing expired at 2026-01-02" in capsys.readouterr().out  # nothing left: no second announcement

    live = await hub.entries()
    await rebuild_timeline(hub.settings)  # keys gone: unreadable, and expired as they arrive
    assert await hub.entries() == live


async def test_an_erasure_under_a_hold_restricts_until_the_hold_ends_then_the_job_shreds(hub, tmp_path):
    await capture(hub)
    event = await erase(hub.engine, active_sealer().master, hub.publisher, Target(customer_ref="K-1"),
                        ActorRef(kind="agent", name="ada"), now=at("2026-03-01T00:00:00"))
    assert isinstance(event, CustomerErased)
    held = {(r.retention_class, r.year, r.until) for r in event.payload.restricted}
    assert held == {("email.*", 2024, at("2031-01-01T00:00:00")), ("webform.*", 2024, at("2027-01-01T00:00:00"))}
    # the expired mail of 2019 was past its hold: destroyed at once, as the customer's own keys
    assert "2019|email.*" in await hub.periods()  # Max's, untouched
    assert (await pending(hub.engine)).count == 2
    ops = await ops_section(hub)
    assert "Pending restrictions: <span class=\"num\">2</span>" in ops and "2027-01-01" in ops
    assert '<tr data-period="2024|webform.*">' in ops  # the next class and year to expire, with its keys
    await hub.project()

    entries = await hub.entries()
    assert entries[str(NEW_ERIKA.event_id)] == ("restricted", "email.received")
    assert entries[str(FORM_ERIKA.event_id)] == ("restricted", "webform.submitted")
    assert entries[str(OLD_ERIKA.event_id)] == ("erased", "email.received")
    assert "Max fragt 2019" in entries[str(OLD_MAX.event_id)][0]
    assert not any(text in str(entries) for text in ("Kühlschrank", "Erika schreibt", "Formular von Erika"))
    async with hub.engine.connect() as conn:  # what the API and the customer page read
        page = await queries.timeline_page(conn, customer_id_for("K-1"), 50, None, None)
    shown = {item["event_id"]: item for item in page}
    assert shown[str(NEW_ERIKA.event_id)]["summary"] == "restricted"
    assert shown[str(NEW_ERIKA.event_id)]["details"] == {"restricted": True, "until": "2031-01-01T00:00:00+00:00"}
    assert shown[str(NEW_ERIKA.event_id)]["channel"] == "email"

    out = tmp_path / "k1.zip"
    await export(hub.settings, hub.engine, "K-1", out)
    with zipfile.ZipFile(out) as archive:
        listed = {item["event_id"]: item for item in orjson.loads(archive.read("restricted.json"))}
        inside = b"".join(archive.read(name) for name in archive.namelist())
    assert set(listed) == {str(NEW_ERIKA.event_id), str(FORM_ERIKA.event_id)}
    assert listed[str(FORM_ERIKA.event_id)]["restricted_until"] == "2027-01-01T00:00:00+00:00"
    assert "Formular von Erika".encode() not in inside and b"Erika schreibt" not in inside  # held keys open nothing

    shredded = await run_retention(hub.engine, active_sealer().master, hub.publisher, active_sealer().retention,
                                   at("2027-01-01T00:00:00"))
    assert [(s.expiry.retention_class, s.expiry.year, s.restrictions_ended) for s in shredded] == [
        ("email.*", 2019, 0), ("webform.*", 2024, 1)]  # Max's old mail had expired meanwhile too
    assert (await pending(hub.engine)).count == 1
    await hub.project()
    entries = await hub.entries()
    assert entries[str(FORM_ERIKA.event_id)] == ("erased", "webform.submitted")
    assert entries[str(NEW_ERIKA.event_id)] == ("restricted", "email.received")

    page = await hub.page("K-1")
    await rebuild_timeline(hub.settings)  # held keys open nothing: the rebuild puts them back from the record
    rebuilt = await hub.page("K-1")
    for event in (NEW_ERIKA, FORM_ERIKA):
        assert rebuilt[str(event.event_id)] == page[str(event.event_id)]


async def test_the_projector_runs_the_job_on_its_schedule_with_the_injected_clock(hub):
    await hub.publisher.publish([OLD_MAX, NEW_ERIKA])
    assert "2019|email.*" in await hub.periods()
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(hub.settings, stop, clock=lambda: at("2026-01-01T00:00:00")))
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while "2019|email.*" in await hub.periods():
            assert not serving.done(), serving.exception()
            assert asyncio.get_running_loop().time() < deadline, "the projector did not run retention"
            await asyncio.sleep(0.1)
        assert "2024|email.*" in await hub.periods()
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=30)
