"""Consent end to end on PostgreSQL and a real Kafka: a web form posted with a ticked consent
field becomes `consent.given` on the consents topic, the projector (`touchpoint projector`'s
serve, run in-process) holds it for the customer whose address sent it; an agent withdraws
it through the JSON API, and the customer's consent is withdrawn with both statements in the
history, in the export's `consents.json` too; an erasure then redacts the consent rows, and
`touchpoint rebuild consents` gives the same redacted view."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import Awaitable, Callable

import httpx
import pytest

from events.privacy import CustomerErased
from events.ids import event_id_for
from services.ingest.http.app import create_app as ingest_app
from services.projector import main as projector
from services.projector.api import queries as rows
from services.projector.api.app import create_app as api_app
from services.projector.consent.queries import consents_of
from services.projector.consent.rebuild import rebuild_async
from services.projector.consent.tables import consent_history
from services.projector.privacy.export import export
from services.projector.timeline.rows import contact_id_for, customer_id_for
from shared.config import FileConfig
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher
from tests import timeline_factories as f

pytestmark = pytest.mark.integration
ERIKA = customer_id_for("K-1")
AGENT_TOKEN = "consent-agent-token-0123456789"
PURPOSES = ["contact", "marketing"]


def with_consent_form(settings):
    file = FileConfig.model_validate({
        "webhooks": {"forms": {"newsletter": {
            "required": ["email"], "rate_limit_per_minute": 0, "consent": {"marketing": "newsletter_optin"},
            "consent_text_version": "2026-01", "consent_withdrawable": ["marketing"]}}},
        "auth": {"tokens": [{"token": AGENT_TOKEN, "user": "anna", "role": "agent"}]},
    })
    return settings.model_copy(update={"file": file, "default_region": "DE"})


async def eventually(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 60) -> None:
    for _ in range(int(seconds * 5)):
        if await check():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"{what} did not happen within {seconds} s")


async def marketing(engine) -> dict:
    async with engine.connect() as conn:
        owner = await rows.customer(conn, ERIKA)
        if owner is None:
            return {"purposes": [], "history": []}
        return await consents_of(conn, owner, PURPOSES)


def state_of(found: dict, purpose: str = "marketing") -> str | None:
    return next((p["state"] for p in found["purposes"] if p["purpose"] == purpose), None)


async def test_form_consent_then_agent_withdrawal_reach_the_customers_consent_state(kafka_settings, postgres_url, tmp_path):
    settings = with_consent_form(kafka_settings).model_copy(update={"database_url": postgres_url})
    await upgrade_async(postgres_url)
    stop = asyncio.Event()
    running = asyncio.create_task(projector.serve(settings, stop))
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
    try:
        await publisher.publish([f.registered("K-1", "Erika Muster", emails=("erika@example.org",))])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ingest_app(settings, publisher)),
                                     base_url="http://ingest") as ingest:
            posted = await ingest.post("/webhooks/forms/newsletter",
                                       data={"email": "Erika@Example.org", "newsletter_optin": "on"})
        assert posted.status_code == 200, posted.text
        assert len(posted.json()["event_ids"]) == 2  # the submission and its consent

        async def given() -> bool:
            return state_of(await marketing(engine)) == "given"

        await eventually(given, "the form's consent on the customer's page")
        current = next(p["current"] for p in (await marketing(engine))["purposes"] if p["purpose"] == "marketing")
        assert current["source"] == {"kind": "webform", "form_id": "newsletter", "field": "newsletter_optin",
                                     "text_version": "2026-01", "submission_id": current["source"]["submission_id"]}
        assert current["subject"]["email"] == "erika@example.org"

        api = api_app(settings, engine=engine, publisher=publisher)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://api",
                                     headers={"Authorization": f"Bearer {AGENT_TOKEN}"}) as client:
            unknown = await client.post(f"/api/customers/{ERIKA}/consents", json={"purpose": "profiling", "state": "given"})
            bad_state = await client.post(f"/api/customers/{ERIKA}/consents", json={"purpose": "marketing", "state": "maybe"})
            withdrawn = await client.post(f"/api/customers/{ERIKA}/consents",
                                          json={"purpose": "marketing", "state": "withdrawn", "note": "on the phone"})
            again = await client.post(f"/api/customers/{ERIKA}/consents", json={"purpose": "marketing", "state": "withdrawn"})
            listed = await client.get(f"/api/customers/{ERIKA}/consents")
        assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_purpose"
        assert bad_state.status_code == 422 and "state" in bad_state.text
        assert withdrawn.status_code == 202, withdrawn.text
        assert withdrawn.json()["type"] == "consent.withdrawn" and withdrawn.json()["applied"] is True
        assert again.status_code == 409 and again.json()["error"] == "already_withdrawn"
        found = listed.json()
        assert state_of(found) == "withdrawn" and state_of(found, "contact") == "unknown"
        assert [(s["state"], s["source"]["kind"]) for s in found["history"]] == [("withdrawn", "agent"), ("given", "webform")]
        assert found["history"][0]["source"]["actor"] == "anna"

        out = tmp_path / "export.zip"
        await export(settings, engine, "K-1", out)
        exported = json.loads(zipfile.ZipFile(out).read("consents.json"))
        assert exported["customer_ref"] == "K-1" and state_of(exported) == "withdrawn"
        assert len(exported["history"]) == 2

        await publisher.publish([CustomerErased(
            event_id=event_id_for("test-erasure", "K-1"), occurred_at=f.at(100), recorded_at=f.at(100),
            source="erasure", payload={"erasure_id": "e-1", "customer_ref": "K-1",
                                       "timeline_ids": [ERIKA, contact_id_for(("email", "erika@example.org"))],
                                       "subjects": [], "keys_destroyed": 0, "actor": {"name": "admin"}})])

        async def redacted() -> bool:
            async with engine.connect() as conn:
                emails = [r.email for r in await conn.execute(consent_history.select())]
            return len(emails) == 2 and emails == [None, None]

        await eventually(redacted, "the erasure's redaction of the consent rows")
        kept = await marketing(engine)
        assert state_of(kept) == "withdrawn"  # the record of what was agreed stays, without personal data
        assert all(s["subject"]["email"] is None and s["source"].get("note") is None for s in kept["history"])

        stop.set()
        await asyncio.wait_for(running, 30)
        await rebuild_async(settings, show_progress=False)
        assert await marketing(engine) == kept  # the same redacted view, whichever topic the replay read first
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await publisher.stop()
        await engine.dispose()
