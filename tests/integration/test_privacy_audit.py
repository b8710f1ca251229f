"""The access audit end to end on a real Kafka and PostgreSQL: a user reads a customer's page,
the record goes to the `audit` topic, `touchpoint projector` (a process of its own) projects it
into the access log; an admin downloads the customer's export from the page, and its
`audit.json` holds the user's read and the export itself. `touchpoint rebuild audit` gives the
same rows back from the topic."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest
import sqlalchemy as sa

from events.topics import Topic, topic_name
from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.audit.rebuild import rebuild_async
from services.projector.audit.requests import drain
from services.projector.audit.tables import access_audit
from services.projector.privacy.export import export_command
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.tables import TIMELINE
from services.projector.web.ui import WebUi
from shared.config import Auth, AuthToken, FileConfig
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import BatchReader
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import ensure_for
from tests import timeline_factories as f
from tests.integration.test_projector_live import start_projector, stop, wait_for
from tests.integration.test_web_pages import log_in

pytestmark = pytest.mark.integration
ERIKA = customer_id_for("K-1")
NAME, EMAIL = "Erika Muster", "erika@example.org"


@pytest.fixture
async def hub(kafka_bootstrap, settings_factory, postgres_url):  # type: ignore[no-untyped-def]
    settings = settings_factory(kafka_bootstrap=kafka_bootstrap, topic_partitions=2, database_url=postgres_url,
                                file=FileConfig(auth=Auth(session_secret="audit-kafka-secret", tokens=[
                                    AuthToken(token="agent-token-1", user="anna", role="agent"),
                                    AuthToken(token="admin-token-1", user="ada", role="admin")])))
    await ensure_for(settings)
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="audit-test")
    await publisher.publish([f.registered("K-1", NAME, emails=(EMAIL,)), f.mail(1, EMAIL, 5)])
    projector = start_projector(settings, postgres_url)
    app = create_app(settings, engine=engine, publisher=publisher)
    WebUi(settings, engine, publisher, Authorizer(settings)).install(app)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.44", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://agent.test") as client:
            client.app, client.engine, client.settings, client.projector = app, engine, settings, projector  # type: ignore[attr-defined]
            yield client
            await drain(app)
    finally:
        stop(projector)
        await publisher.stop()
        await engine.dispose()


async def audit_rows(engine) -> list[dict]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(access_audit).order_by(access_audit.c.accessed_at))
        return [dict(row._mapping) for row in rows]


async def test_a_page_read_and_an_export_download_are_in_the_access_log_and_in_the_exports_audit_json(hub):
    async def customer_projected() -> bool:
        async with hub.engine.connect() as conn:
            return await conn.scalar(sa.select(TIMELINE.customers.c.id).where(TIMELINE.customers.c.id == ERIKA)) is not None

    await wait_for(customer_projected, "the customer's projection", hub.projector, hub.settings)
    await log_in(hub, "agent-token-1")
    page = await hub.get(f"/customers/{ERIKA}")
    assert page.status_code == 200 and NAME in page.text

    async def page_read_recorded() -> bool:
        return any(r["user_name"] == "anna" and r["resource"] == "customer" for r in await audit_rows(hub.engine))

    await wait_for(page_read_recorded, "the agent's page read in the access log", hub.projector, hub.settings)
    [read] = await audit_rows(hub.engine)
    assert (read["customer_id"], read["role"], read["client_address"], read["via"]) == (ERIKA, "agent", "192.0.2.44", "page")

    hub.cookies.clear()
    await log_in(hub, "admin-token-1")
    admin_page = (await hub.get(f"/customers/{ERIKA}")).text
    assert "anna" in admin_page.split('class="plain access-log"')[1].split("</table>")[0]
    download = await hub.get(f"/customers/{ERIKA}/export.zip")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    assert 'filename="export-K-1.zip"' in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert {"customer.json", "events.json", "audit.json"} <= set(archive.namelist())
        events = json.loads(archive.read("events.json"))
        audit = json.loads(archive.read("audit.json"))
    assert {"customer.registered", "email.received"} <= {e["type"] for e in events}
    assert [(a["user"], a["resource"]) for a in audit][-1] == ("anna", "customer")
    assert ("ada", "export", "page") in {(a["user"], a["resource"], a["via"]) for a in audit}
    assert audit == sorted(audit, key=lambda a: (a["accessed_at"], a["event_id"]), reverse=True), "latest first"

    async def export_recorded() -> bool:
        return any(r["resource"] == "export" for r in await audit_rows(hub.engine))

    await wait_for(export_recorded, "the export in the access log", hub.projector, hub.settings)
    await drain(hub.app)
    async with BatchReader(hub.settings.bootstrap_servers, [topic_name(hub.settings.topic_prefix, Topic.AUDIT)],
                           client_id="audit-test-reader") as reader:
        on_topic = [item.event for batch in [b async for b in reader.batches()] for item in batch.events]
    assert {e.payload.resource for e in on_topic} >= {"customer", "export"}
    assert all(e.type == "customer.accessed" for e in on_topic)

    async def all_projected() -> bool:
        return len(await audit_rows(hub.engine)) == len(on_topic)

    await wait_for(all_projected, "every record of the topic in the access log", hub.projector, hub.settings)
    before = await audit_rows(hub.engine)
    stop(hub.projector)
    assert await rebuild_async(hub.settings, show_progress=False) >= len(before)
    assert await audit_rows(hub.engine) == before


async def test_the_command_lines_export_is_recorded_under_the_machines_user_and_listed_in_its_audit_json(hub, tmp_path):
    async def customer_projected() -> bool:
        async with hub.engine.connect() as conn:
            return await conn.scalar(sa.select(TIMELINE.customers.c.id).where(TIMELINE.customers.c.id == ERIKA)) is not None

    await wait_for(customer_projected, "the customer's projection", hub.projector, hub.settings)
    out = tmp_path / "k1.zip"
    await export_command(hub.settings, "K-1", out)
    with zipfile.ZipFile(out) as archive:
        [record] = json.loads(archive.read("audit.json"))
    assert (record["resource"], record["via"], record["client_address"]) == ("export", "cli", "local")
    assert record["user"].startswith("cli")

    async def projected() -> bool:
        return [r["event_id"] for r in await audit_rows(hub.engine)] == [record["event_id"]]

    await wait_for(projected, "the command line's export in the access log", hub.projector, hub.settings)
