"""The web pages over a real read model (SQLite and PostgreSQL): login and its cookie, pages
behind login and roles, CSRF on every state change, paging a long timeline by cursor, the
link action, and the live feed noticing the projector's commits."""

from __future__ import annotations

import re

import httpx
import pytest

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.timeline.rows import contact_id_for, customer_id_for
from services.projector.timeline.writer import TimelineWriter
from services.projector.web.live import CommitWatcher
from services.projector.web.ui import WebUi
from shared.config import Auth, AuthToken, FileConfig
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
ERIKA = customer_id_for("K-1")
PHONE, STRANGER = "+4915112345678", "+4930999888"
MAILS = 120


def config() -> FileConfig:
    return FileConfig(auth=Auth(session_secret="pages-test-secret", tokens=[
        AuthToken(token="agent-token-1", user="anna", role="agent", extension="21"),
        AuthToken(token="ops-token-1", user="olaf", role="ops"),
    ]))


@pytest.fixture
async def site(db_url, settings_factory):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    writer = TimelineWriter(engine)
    await writer.write([f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,)),
                        f.call("started", "s1", STRANGER, 0)])
    await writer.write([f.mail(n, "erika@example.org", 10 + n) for n in range(MAILS)])
    settings = settings_factory(file=config())
    publisher = InMemoryPublisher()
    web = WebUi(settings, engine, publisher, Authorizer(settings))
    app = create_app(settings, engine=engine, publisher=publisher)
    web.install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://agent.test") as client:
        client.published = publisher  # type: ignore[attr-defined]
        client.engine = engine  # type: ignore[attr-defined]
        yield client
    await engine.dispose()


def actions(publisher: InMemoryPublisher) -> list:
    """What the pages published, leaving out the access audit's records of the reads."""
    return [event for event in publisher.events if event.type != "customer.accessed"]


async def log_in(client: httpx.AsyncClient, token: str) -> str:
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = await client.post("/login", data={"token": token, "csrf_token": csrf, "next": "/"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = (await client.get("/")).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def test_pages_send_visitors_without_a_session_to_the_login_form(site):
    response = await site.get(f"/customers/{ERIKA}?channel=email")
    assert response.status_code == 303 and response.headers["location"] == f"/login?next=/customers/{ERIKA}%3Fchannel%3Demail"


async def test_login_sets_a_secure_httponly_samesite_cookie_and_pages_carry_a_strict_csp(site):
    form = await site.get("/login")
    assert "script-src 'self'" in form.headers["content-security-policy"]
    assert "unsafe-inline" not in form.headers["content-security-policy"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    response = await site.post("/login", data={"token": "agent-token-1", "csrf_token": csrf, "next": "/"})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie


async def test_login_refuses_unknown_tokens_and_forms_without_their_csrf_token(site):
    form = await site.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    wrong = await site.post("/login", data={"token": "guess", "csrf_token": csrf})
    assert wrong.status_code == 303 and "failed=token" in wrong.headers["location"]
    forged = await site.post("/login", data={"token": "agent-token-1", "csrf_token": "forged"})
    assert forged.status_code == 303 and "failed=expired" in forged.headers["location"]


async def test_search_finds_the_customer_by_phone(site):
    await log_in(site, "agent-token-1")
    page = await site.get("/", params={"q": "+49 151 12345678"})
    assert f'href="/customers/{ERIKA}"' in page.text and "Erika Muster" in page.text


async def test_the_start_page_lists_unmatched_contacts_to_link(site):
    await log_in(site, "agent-token-1")
    page = await site.get("/")
    assert f'href="/customers/{contact_id_for(("phone", STRANGER))}"' in page.text and STRANGER in page.text
    assert f'href="/customers/{ERIKA}"' not in page.text


async def test_a_link_naming_the_customer_ref_leads_to_the_customer_page(site):
    await log_in(site, "agent-token-1")
    by_ref = await site.get("/customers/K-1")
    assert by_ref.status_code == 307 and by_ref.headers["location"] == f"/customers/{ERIKA}"
    assert (await site.get("/customers/K-404")).status_code == 404


async def test_a_long_timeline_is_served_in_pages_by_cursor(site):
    await log_in(site, "agent-token-1")
    page = await site.get(f"/customers/{ERIKA}")
    assert page.text.count('class="entry ch-email') == 50
    cursor = re.search(r'data-cursor="([^"]+)"', page.text).group(1)
    seen = 50
    while cursor:
        fragment = await site.get(f"/customers/{ERIKA}/entries", params={"before": cursor})
        seen += fragment.text.count('class="entry ch-email')
        cursor = fragment.headers["x-next-cursor"]
    assert seen == MAILS


async def test_the_link_action_needs_the_csrf_token_and_publishes_contact_linked(site):
    csrf = await log_in(site, "agent-token-1")
    contact = contact_id_for(("phone", STRANGER))
    form = {"identifier": f"phone:{STRANGER}", "customer_ref": "K-1"}
    refused = await site.post(f"/customers/{contact}/link", data=form)
    assert refused.status_code == 403 and site.published.events == []
    done = await site.post(f"/customers/{contact}/link", data={**form, "csrf_token": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/customers/{ERIKA}?linked=1"
    [event] = site.published.events
    assert event.type == "contact.linked" and event.payload.customer_ref == "K-1"
    assert event.payload.identifier.value == STRANGER and event.payload.actor.name == "anna"


async def test_cookie_sessions_write_to_the_json_api_only_with_the_csrf_header(site):
    csrf = await log_in(site, "agent-token-1")
    body = {"kind": "phone", "value": STRANGER}
    assert (await site.post(f"/api/customers/{ERIKA}/link", json=body)).status_code == 401
    accepted = await site.post(f"/api/customers/{ERIKA}/link", json=body, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 202


async def test_the_ops_page_is_for_the_ops_role_only_and_the_complaints_board_for_agents_and_leads(site):
    await log_in(site, "agent-token-1")
    assert (await site.get("/ops")).status_code == 403
    assert (await site.get("/complaints")).status_code == 200
    site.cookies.clear()
    await log_in(site, "ops-token-1")
    assert (await site.get("/complaints")).status_code == 403


async def test_the_live_feed_starts_on_an_empty_read_model(db_url):
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    try:
        watcher = CommitWatcher(engine)
        await watcher.prime()
        await TimelineWriter(engine).write([f.call("started", "first", PHONE, 0)], {("t.calls", 0): 1})
        [first] = await watcher.poll()
        assert first.entry["details"]["call_id"] == "first"
    finally:
        await engine.dispose()


async def test_the_live_feed_hands_over_what_the_projector_commits_once(site):
    watcher = CommitWatcher(site.engine)
    await watcher.prime()
    assert await watcher.poll() == []
    writer = TimelineWriter(site.engine)
    await writer.write([f.call("started", "live-1", PHONE, 500)], {("t.calls", 0): 1})
    [started] = await watcher.poll()
    assert started.owner_id == ERIKA and started.entry["type"] == "call.started"
    assert await watcher.poll() == []
    await writer.write([f.call("answered", "live-1", PHONE, 501)], {("t.calls", 0): 2})
    [answered] = await watcher.poll()
    assert answered.entry["id"] == started.entry["id"] and answered.entry["type"] == "call.answered"
