"""The timeline as of an instant over HTTP: the JSON API's `as_of` and the customer page's
time control (SQLite read model; the comparison with a truncated rebuild is an integration
test, tests/integration/test_timeline_as_of.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import httpx
import pytest

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.writer import TimelineWriter
from services.projector.web.ui import WebUi
from shared.config import Auth, AuthToken, FileConfig, Settings, Sla
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher
from tests import timeline_factories as f

TOKEN = "agent-token-for-as-of-tests-0123456789"
ERIKA = customer_id_for("K-1")
PHONE = "+4915112345678"


@pytest.fixture
async def site(tmp_path):
    config = Settings(data_dir=tmp_path, file=FileConfig(auth=Auth(
        session_secret="session-secret-for-as-of-tests-0123456789",
        tokens=[AuthToken(token=TOKEN, user="anna", role="agent")]), sla=Sla(timezone="Europe/Berlin")))
    await upgrade_async(config.db_url)
    engine = make_engine(config.db_url)
    await TimelineWriter(engine).write([
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,)),
        f.mail(1, "erika@example.org", 1, subject="First question"),
        f.call("started", "c1", PHONE, 2),
        f.call("ended", "c1", PHONE, 4, disposition="missed"),
        f.mail(2, "erika@example.org", 10, subject="Second question"),
    ])
    publisher = InMemoryPublisher()
    app = create_app(config, engine=engine, publisher=publisher)
    WebUi(config, engine, publisher, Authorizer(config)).install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://agent.test",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        form = (await client.get("/login")).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        await client.post("/login", data={"token": TOKEN, "csrf_token": csrf, "next": "/"})  # for the pages
        yield client
    await engine.dispose()


async def summaries(client, as_of: str) -> list[str]:
    answer = await client.get(f"/api/customers/{ERIKA}/timeline", params={"as_of": as_of})
    assert answer.status_code == 200, answer.text
    return [e["summary"] for e in answer.json()["entries"]]


async def test_the_api_shows_only_what_was_recorded_by_then_in_the_state_it_had(site):
    assert await summaries(site, "2026-03-02T09:00:00Z") == []
    assert await summaries(site, "2026-03-02T09:03:00Z") == [
        "Call from +4915112345678 (ringing)", "Mail from Erika Muster: First question"]
    assert await summaries(site, "2026-03-02T10:03:00+01:00") == [  # the same instant in another zone
        "Call from +4915112345678 (ringing)", "Mail from Erika Muster: First question"]
    assert await summaries(site, "2026-03-02T09:30:00Z") == [
        "Mail from Erika Muster: Second question", "Missed call from +4915112345678",
        "Mail from Erika Muster: First question"]
    answer = await site.get(f"/api/customers/{ERIKA}/timeline", params={"as_of": "2026-03-02T09:03:00Z"})
    assert answer.json()["as_of"] == "2026-03-02T09:03:00+00:00" and answer.json()["complaints"] == []


@pytest.mark.parametrize("bad", ["yesterday", "2026-03-02T09:03:00", "2026-13-02T09:03:00Z", "0001-01-01T00:00:00+14:00"])
async def test_an_instant_without_zone_or_not_iso_is_a_422_naming_the_parameter(site, bad):
    answer = await site.get(f"/api/customers/{ERIKA}/timeline", params={"as_of": bad})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request" and answer.json()["detail"].startswith("as_of:")


async def test_without_as_of_the_timeline_is_the_current_one(site):
    answer = (await site.get(f"/api/customers/{ERIKA}/timeline")).json()
    assert "as_of" not in answer and len(answer["entries"]) == 3


async def test_the_page_steps_back_one_recorded_change_at_a_time(site):
    page = await site.get(f"/customers/{ERIKA}")
    assert page.text.count('class="entry ') == 3 and 'data-as-of=""' in page.text
    back = unquote(re.search(r'class="as-of-back" href="[^"]*as_of=([^"&]+)', page.text).group(1))
    assert back == (f.at(10) + timedelta(seconds=2, microseconds=-1)).isoformat()  # just before the last mail

    stepped = await site.get(f"/customers/{ERIKA}", params={"as_of": back})
    assert stepped.text.count('class="entry ') == 2 and "Second question" not in stepped.text
    assert "later entries and changes are hidden" in stepped.text
    back = unquote(re.search(r'class="as-of-back" href="[^"]*as_of=([^"&]+)', stepped.text).group(1))
    again = await site.get(f"/customers/{ERIKA}", params={"as_of": back})
    assert "Call from +4915112345678 (ringing)" in again.text and "Missed call" not in again.text


async def test_the_date_field_is_read_in_the_pages_time_zone(site):
    # Europe/Berlin (the default SLA zone) is UTC+1 in March: 10:03 there is 09:03 UTC
    page = await site.get(f"/customers/{ERIKA}", params={"as_of": "2026-03-02T10:03:00"})
    assert page.text.count('class="entry ') == 2 and 'value="2026-03-02T10:03:00"' in page.text
    for text in ("soon", "0001-01-01T00:00:00"):
        bad = await site.get(f"/customers/{ERIKA}", params={"as_of": text})
        assert bad.status_code == 200 and "Cannot show that time" in bad.text and bad.text.count('class="entry ') == 3
