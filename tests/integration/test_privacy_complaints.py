"""Complaints under retention and restriction, on the real Kafka and PostgreSQL with privacy on and
a fake clock.

Mails and a form of two years open complaints. When retention shreds a class and year, the
complaints opened by its interactions lose subject line and address ("expired") and keep their
SLA figures; an erasure under a legal hold shows the held ones as "restricted" until the hold
ends, then "erased". The complaints' stored events hold none of it any more, and `rebuild sla`
gives the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from events.envelope import ActorRef, Event
from services.projector.catchup import catch_up
from services.projector.complaints import store
from services.projector.complaints.detector import DetectorConfig, complaint_id_for
from services.projector.complaints.facts import facts_of
from services.projector.complaints.policy import rules_from_settings
from services.projector.complaints.processor import ComplaintProcessor
from services.projector.complaints.rebuild import rebuild_async
from services.projector.complaints.tables import complaint_events, complaints, sla_outcomes
from services.projector.consume import BatchProjector
from services.projector.privacy.erasure import Target, erase
from services.projector.privacy.retention_job import run_retention
from services.projector.timeline.writer import TimelineWriter
from shared.config import FileConfig
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.follower import follow_in_bulk
from shared.kafka.publisher import KafkaPublisher
from shared.privacy.runtime import active_sealer, install, uninstall
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
ERIKA, MAX = "erika@example.org", "max@example.org"
FILE = {
    "privacy": {"encrypt": True, "retention": {"email.*": "6y", "webform.*": "2y"}},
    "sla": {"complaint_mail_rules": [{"to": ["support@shop.example"]}],
            "policies": [{"name": "standard", "calendar": "24/7", "first_response": "4h", "resolution": "3d"}]},
}
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def in_year(event: Event, year: int, thread: str | None = None) -> Event:
    moment = event.occurred_at.replace(year=year)
    payload = event.payload.model_copy(update={"thread_key": thread}) if thread else event.payload
    return event.model_copy(update={"occurred_at": moment, "recorded_at": moment + timedelta(seconds=2),
                                    "payload": payload})


def complaint_form(n: int, email: str, year: int, subject: str) -> Event:
    form = f.form(n, email, n)
    payload = form.payload.model_copy(update={"topic": "complaint", "subject": subject})
    return in_year(form.model_copy(update={"payload": payload}), year)


OLD_ERIKA = in_year(f.mail(1, ERIKA, 0, subject="Kühlschrank brummt seit 2019"), 2019, "t:old-erika")
OLD_MAX = in_year(f.mail(2, MAX, 1, subject="Max beschwert sich 2019"), 2019, "t:old-max")
NEW_ERIKA = in_year(f.mail(3, ERIKA, 2, subject="Erika beschwert sich 2024"), 2024, "t:new-erika")
FORM_ERIKA = complaint_form(4, ERIKA, 2024, "Formular von Erika 2024")
SECRETS = ("Kühlschrank", "Erika beschwert", "Formular von Erika", ERIKA)


def complaint_of(event: Event) -> str:
    return complaint_id_for(event.event_id)


class Hub:
    """Publishes, runs the complaints processor (with a fixed clock) and the timeline (which erasure
    reads to find a customer's addresses) over the log from their stored positions, and reads the
    complaints."""

    def __init__(self, settings, engine, publisher) -> None:  # type: ignore[no-untyped-def]
        self.settings, self.engine, self.publisher = settings, engine, publisher
        self.rules = rules_from_settings(settings)
        self.processor = ComplaintProcessor(engine, publisher, settings.topic_prefix, self.rules,
                                            DetectorConfig(sla=settings.file.sla, rules=self.rules), now=lambda: NOW)
        self.timeline = BatchProjector(TimelineWriter(engine), publisher, settings.topic_prefix)
        self.positions: dict = {}

    async def project(self) -> None:
        self.positions = await catch_up(self.settings, self.timeline, self.positions)
        await follow_in_bulk(self.settings.bootstrap_servers, self.processor.topics(), self.processor.step,
                             await self.processor.start_offsets())

    async def rebuild(self) -> None:
        await rebuild_async(self.settings, rules=self.rules, show_progress=False, now=lambda: NOW)

    async def rows(self) -> dict[str, dict]:
        """Complaint id -> its row, without the time it was last written."""
        async with self.engine.connect() as conn:
            found = (await conn.execute(sa.select(complaints))).mappings().all()
        return {row["complaint_id"]: {k: v for k, v in row.items() if k != "updated_at"} for row in found}

    async def shown(self, event: Event) -> tuple[str, str | None]:
        """What the complaint pages and API show of the complaint `event` opened: subject and address."""
        async with self.engine.connect() as conn:
            facts = facts_of(await store.events_of(conn, complaint_of(event)))
        return facts.subject, facts.email

    async def stored(self) -> str:
        async with self.engine.connect() as conn:
            bodies = (await conn.execute(sa.select(complaint_events.c.body))).scalars().all()
            rows = (await conn.execute(sa.select(complaints))).all()
        return "\n".join(bodies) + str(rows)

    async def outcomes(self) -> list:
        async with self.engine.connect() as conn:
            return sorted((await conn.execute(sa.select(sla_outcomes))).all())

    async def retention(self, now: str) -> None:
        sealer = active_sealer()
        await run_retention(self.engine, sealer.master, self.publisher, sealer.retention, at(now))


@pytest.fixture
async def hub(kafka_settings, postgres_url):  # type: ignore[no-untyped-def]
    settings = kafka_settings.model_copy(update={"database_url": postgres_url, "privacy_encrypt": True,
                                                 "file": FileConfig.model_validate(FILE)})
    await upgrade_async(postgres_url)
    install(settings)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="complaint-retention-test")
    await publisher.start()
    try:
        hub = Hub(settings, engine, publisher)
        await publisher.publish([f.registered("K-1", "Erika Muster", emails=(ERIKA,)),
                                 f.registered("K-2", "Max Mustermann", emails=(MAX,)),
                                 OLD_ERIKA, OLD_MAX, NEW_ERIKA, FORM_ERIKA])
        await hub.project()
        yield hub
    finally:
        await publisher.stop()
        await engine.dispose()
        uninstall()


async def test_expiry_redacts_the_complaints_its_interactions_opened_and_keeps_their_sla_figures(hub):
    before = await hub.rows()
    assert before[complaint_of(OLD_ERIKA)]["subject"] == "Kühlschrank brummt seit 2019"
    assert before[complaint_of(FORM_ERIKA)]["subject"] == "Formular von Erika 2024", "a form opens one too"
    outcomes = await hub.outcomes()

    await hub.retention("2026-01-01T00:00:00")  # the mails of 2019 expire
    await hub.project()

    after = await hub.rows()
    for event in (OLD_ERIKA, OLD_MAX):
        row = after[complaint_of(event)]
        assert (row["subject"], row["email"]) == ("expired", None)
        assert await hub.shown(event) == ("expired", None)
        kept = {k: v for k, v in before[complaint_of(event)].items() if k not in ("subject", "email")}
        assert {k: v for k, v in row.items() if k not in ("subject", "email")} == kept, "SLA figures stay"
    assert after[complaint_of(NEW_ERIKA)] == before[complaint_of(NEW_ERIKA)]
    assert after[complaint_of(FORM_ERIKA)] == before[complaint_of(FORM_ERIKA)]
    assert await hub.outcomes() == outcomes
    stored = await hub.stored()
    assert "Kühlschrank" not in stored and "Max beschwert" not in stored
    assert "Erika beschwert sich 2024" in stored, "what did not expire stays readable"

    await hub.rebuild()
    assert await hub.rows() == after


async def test_an_erasure_under_a_hold_restricts_complaints_until_the_hold_ends_then_they_are_erased(hub):
    max_before = (await hub.rows())[complaint_of(OLD_MAX)]
    await erase(hub.engine, active_sealer().master, hub.publisher, Target(customer_ref="K-1"),
                ActorRef(kind="agent", name="ada"), now=NOW)
    await hub.project()

    rows = await hub.rows()
    assert rows[complaint_of(NEW_ERIKA)]["subject"] == "restricted"  # email.* 2024: held until 2031
    assert rows[complaint_of(FORM_ERIKA)]["subject"] == "restricted"  # webform.* 2024: held until 2027
    assert rows[complaint_of(OLD_ERIKA)]["subject"] == "erased"  # email.* 2019 had expired: no hold
    assert await hub.shown(NEW_ERIKA) == ("restricted", None)
    assert rows[complaint_of(OLD_MAX)] == max_before
    assert not [secret for secret in SECRETS if secret in await hub.stored()]

    await hub.retention("2027-01-01T00:00:00")  # the hold on the forms of 2024 ends; Max's mail expires
    await hub.project()
    rows = await hub.rows()
    assert rows[complaint_of(FORM_ERIKA)]["subject"] == "erased"
    assert rows[complaint_of(NEW_ERIKA)]["subject"] == "restricted"
    assert rows[complaint_of(OLD_MAX)]["subject"] == "expired"
    assert rows[complaint_of(OLD_ERIKA)]["subject"] == "erased"

    await hub.rebuild()
    assert await hub.rows() == rows
    assert not [secret for secret in SECRETS if secret in await hub.stored()]
