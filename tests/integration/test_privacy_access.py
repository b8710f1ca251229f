"""The access audit on the pages and the API over a real read model (SQLite and PostgreSQL), with
the in-memory publisher: every read of a customer's page, timeline, entry, mail body, attachment
and export by a user is published as `customer.accessed` naming who, what and from where; the
admin sees the records on the customer page and downloads the export there, which is refused
(503) when its record cannot be written, and which agents may not download at all."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from events.audit import CustomerAccessed
from events.email import EmailReceived
from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.audit.requests import drain
from services.projector.audit.writer import AuditWriter
from services.projector.audit.tables import access_audit
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.writer import TimelineWriter
from services.projector.web.ui import WebUi
from shared.blobs import BlobStore
from shared.config import Auth, AuthToken, FileConfig
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import Consumed
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import InMemoryPublisher
from tests import timeline_factories as f
from tests.integration.test_web_pages import log_in

pytestmark = pytest.mark.integration
ERIKA = customer_id_for("K-1")
NAME, EMAIL, PHONE = "Erika Muster", "erika@example.org", "+4915112345678"


def html_mail_with_attachment(blob) -> EmailReceived:  # type: ignore[no-untyped-def]
    plain = f.mail(7, EMAIL, 20)
    payload = plain.payload.model_copy(update={"html": "<p>Hallo</p>", "attachments": (blob,)})
    return plain.model_copy(update={"payload": payload})


@pytest.fixture
async def site(db_url, settings_factory):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    settings = settings_factory(file=FileConfig(auth=Auth(session_secret="privacy-access-secret", tokens=[
        AuthToken(token="agent-token-1", user="anna", role="agent"),
        AuthToken(token="admin-token-1", user="ada", role="admin")])), trusted_proxies="127.0.0.0/8")
    blob = BlobStore(settings.attachments_path).put(b"Kaufbeleg 4711", "text/plain", "beleg.txt")
    writer = TimelineWriter(engine)
    await writer.write([f.registered("K-1", NAME, emails=(EMAIL,), phones=(PHONE,)), html_mail_with_attachment(blob)])
    publisher = InMemoryPublisher()
    app = create_app(settings, engine=engine, publisher=publisher)
    WebUi(settings, engine, publisher, Authorizer(settings)).install(app)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://agent.test") as client:
        client.app, client.published, client.engine, client.blob = app, publisher, engine, blob  # type: ignore[attr-defined]
        yield client
    await engine.dispose()


async def accesses(site) -> list[CustomerAccessed]:  # type: ignore[no-untyped-def]
    await drain(site.app)  # page reads are recorded in the background
    return [e for e in site.published.events if isinstance(e, CustomerAccessed)]


async def project(site) -> None:  # type: ignore[no-untyped-def]
    """What the projector's audit follower does with the published records."""
    events = await accesses(site)
    await AuditWriter(site.engine).write([Consumed(event=e, topic="audit", partition=0, offset=n)
                                          for n, e in enumerate(events)], {})


async def test_every_read_of_a_customers_data_on_the_pages_is_recorded_with_who_what_and_where(site):
    await log_in(site, "agent-token-1")
    forwarded = {"X-Forwarded-For": "198.51.100.23"}  # the peer is a trusted proxy here
    page = await site.get(f"/customers/{ERIKA}", headers=forwarded)
    assert page.status_code == 200 and NAME in page.text
    entry = re.search(r'id="entry-([0-9a-f-]{36})"', page.text).group(1)
    assert (await site.get(f"/customers/{ERIKA}/entries", params={"before": ""})).status_code == 200
    assert (await site.get(f"/entries/{entry}")).status_code == 200
    assert (await site.get(f"/entries/{entry}/mail")).status_code == 200
    assert (await site.get(f"/blobs/{site.blob.sha256}", params={"name": "beleg.txt"})).content == b"Kaufbeleg 4711"
    found = {a.payload.resource: a.payload for a in await accesses(site)}  # recorded in the background: any order
    assert len(await accesses(site)) == len(found) == 5
    assert {(r, p.customer_id, p.entry_id) for r, p in found.items()} == {
        ("customer", ERIKA, None), ("timeline", ERIKA, None), ("entry", ERIKA, entry), ("mail_body", ERIKA, entry),
        ("attachment", ERIKA, entry)}
    assert found["attachment"].blob_sha256 == site.blob.sha256
    assert {(p.user, p.role, p.via) for p in found.values()} == {("anna", "agent", "page")}
    assert found["customer"].client_address == "198.51.100.23" and found["timeline"].client_address == "127.0.0.1"


async def test_reads_through_the_api_are_recorded_under_the_tokens_user(site):
    headers = {"Authorization": "Bearer agent-token-1"}
    assert (await site.get(f"/api/customers/{ERIKA}/timeline", headers=headers)).status_code == 200
    assert (await site.get(f"/api/customers/{ERIKA}", headers=headers)).status_code == 200
    assert (await site.get("/api/customers/nobody/timeline", headers=headers)).status_code == 404
    found = await accesses(site)
    assert [(a.payload.resource, a.payload.user, a.payload.via) for a in found] == [
        ("timeline", "anna", "api"), ("customer", "anna", "api")]


async def test_only_an_admin_sees_the_access_log_and_the_download_button(site):
    await log_in(site, "agent-token-1")
    agent_page = (await site.get(f"/customers/{ERIKA}")).text
    assert "access-log" not in agent_page and "export.zip" not in agent_page
    assert (await site.get(f"/customers/{ERIKA}/export.zip")).status_code == 403
    await project(site)
    site.cookies.clear()
    await log_in(site, "admin-token-1")
    admin_page = (await site.get(f"/customers/{ERIKA}")).text
    assert f'href="/customers/{ERIKA}/export.zip"' in admin_page
    log_table = admin_page.split('class="plain access-log"')[1].split("</table>")[0]
    assert "anna" in log_table and "customer" in log_table and "127.0.0.1" in log_table
    assert NAME not in log_table and EMAIL not in log_table


async def test_an_export_whose_access_cannot_be_recorded_is_refused_with_503(site):
    await log_in(site, "admin-token-1")
    site.published.fail_with = KafkaUnavailable("broker down")
    response = await site.get(f"/customers/{ERIKA}/export.zip")
    assert response.status_code == 503 and "access audit could not record this export" in response.text
    assert "zip" not in response.headers.get("content-type", "")


async def test_audit_rows_hold_no_personal_data_of_the_customer_even_before_an_erasure(site):
    await log_in(site, "admin-token-1")
    await site.get(f"/customers/{ERIKA}")
    await project(site)
    async with site.engine.connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(access_audit.select())]
    assert rows and all(NAME not in json.dumps(r, default=str) and EMAIL not in json.dumps(r, default=str)
                        and PHONE not in json.dumps(r, default=str) for r in rows)
    assert {r["customer_id"] for r in rows} == {ERIKA}
