"""The erasure button on the customer page (SQLite and PostgreSQL): only an admin sees and uses
it, only with the confirmation ticked; it publishes `customer.erased`, and once the projection
applied that, the page shows the customer as erased with none of its data."""

from __future__ import annotations

import httpx
import pytest

from events.privacy import CustomerErased
from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.writer import TimelineWriter
from services.projector.web.ui import WebUi
from shared.config import Auth, AuthToken, FileConfig
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher
from tests import timeline_factories as f
from tests.integration.test_web_pages import actions, log_in

pytestmark = pytest.mark.integration
ERIKA = customer_id_for("K-1")


@pytest.fixture
async def site(db_url, settings_factory):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    writer = TimelineWriter(engine)
    await writer.write([f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=("+4915112345678",)),
                        *[f.mail(n, "erika@example.org", 10 + n) for n in range(3)]])
    settings = settings_factory(file=FileConfig(auth=Auth(session_secret="privacy-pages-secret", tokens=[
        AuthToken(token="agent-token-1", user="anna", role="agent"),
        AuthToken(token="admin-token-1", user="ada", role="admin")])))
    publisher = InMemoryPublisher()
    app = create_app(settings, engine=engine, publisher=publisher)
    WebUi(settings, engine, publisher, Authorizer(settings)).install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://agent.test") as client:
        client.published, client.writer = publisher, writer  # type: ignore[attr-defined]
        yield client
    await engine.dispose()


async def test_an_agent_neither_sees_nor_uses_the_erase_button(site):
    csrf = await log_in(site, "agent-token-1")
    assert "/erase" not in (await site.get(f"/customers/{ERIKA}")).text
    response = await site.post(f"/customers/{ERIKA}/erase", data={"csrf_token": csrf, "confirm": "yes"})
    assert response.status_code == 403
    assert actions(site.published) == []


async def test_without_the_confirmation_ticked_nothing_is_erased(site):
    csrf = await log_in(site, "admin-token-1")
    response = await site.post(f"/customers/{ERIKA}/erase", data={"csrf_token": csrf})
    assert response.status_code == 303 and "confirm" in response.headers["location"]
    assert actions(site.published) == []


async def test_an_admin_erases_a_customer_from_its_page_and_the_page_then_shows_nothing_of_it(site):
    csrf = await log_in(site, "admin-token-1")
    page = (await site.get(f"/customers/{ERIKA}")).text
    assert f'action="/customers/{ERIKA}/erase"' in page and "Erika Muster" in page
    response = await site.post(f"/customers/{ERIKA}/erase", data={"csrf_token": csrf, "confirm": "yes"})
    assert response.status_code == 303 and response.headers["location"] == f"/customers/{ERIKA}?erased=1"
    [erased] = actions(site.published)
    assert isinstance(erased, CustomerErased) and erased.payload.customer_ref == "K-1"
    await site.writer.write([erased])
    page = (await site.get(f"/customers/{ERIKA}?erased=1")).text
    assert "Erika Muster" not in page and "erika@example.org" not in page and "+4915112345678" not in page
    assert "erased" in page


async def test_the_api_erases_for_admins_only_and_answers_202(site):
    agent = await site.post(f"/api/customers/{ERIKA}/erase", headers={"Authorization": "Bearer agent-token-1"})
    assert agent.status_code == 403
    admin = await site.post(f"/api/customers/{ERIKA}/erase", headers={"Authorization": "Bearer admin-token-1"})
    assert admin.status_code == 202 and admin.json()["timelines"][0] == ERIKA
    assert admin.json()["restricted"] == []  # no [privacy.retention] hold: nothing kept
    missing = await site.post("/api/customers/nobody/erase", headers={"Authorization": "Bearer admin-token-1"})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
