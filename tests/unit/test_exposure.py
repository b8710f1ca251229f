"""What the public ports show: /docs, /openapi.json and /metrics can be taken off them (off by
default in production for the docs) and served by an admin listener instead."""

from __future__ import annotations

import secrets

import httpx
from fastapi.testclient import TestClient

from services.ingest.http.app import create_app as create_ingest
from shared.admin_http import admin_app
from shared.config import FileConfig, Settings
from shared.kafka.publisher import InMemoryPublisher
from tests.unit.agent_api_app import agent_api


def ingest_client(**settings) -> TestClient:
    app = create_ingest(Settings(**settings), InMemoryPublisher())
    return TestClient(app, raise_server_exceptions=False)


def test_docs_and_metrics_are_public_by_default_in_development():
    client = ingest_client()
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_docs_are_off_the_public_port_by_default_in_production():
    strong = FileConfig.model_validate({"auth": {"session_secret": secrets.token_urlsafe(32)},
                                        "privacy": {"master_key_file": "/run/secrets/touchpoint-master-key"}})
    client = ingest_client(environment="production", file=strong)
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/healthz").status_code == 200


def test_metrics_can_be_switched_off_the_public_port():
    client = ingest_client(public_docs=False, public_metrics=False)
    assert client.get("/metrics").status_code == 404
    assert client.get("/docs").status_code == 404


def test_the_admin_listener_serves_the_public_apps_document_docs_and_metrics():
    public = create_ingest(Settings(public_docs=False, public_metrics=False), InMemoryPublisher())
    admin = TestClient(admin_app(public))
    document = admin.get("/openapi.json").json()
    assert "/webhooks/telephony/cti" in document["paths"]
    assert admin.get("/docs").status_code == 200
    assert "touchpoint_" in admin.get("/metrics").text


async def test_the_agent_api_hides_its_docs_when_asked(tmp_path):
    app, engine, _ = await agent_api(tmp_path, public_docs=False, public_metrics=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        assert (await http.get("/openapi.json")).status_code == 404
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/metrics")).status_code == 404
    await engine.dispose()


async def test_the_agent_api_document_says_how_to_authenticate_and_describes_its_bodies(tmp_path):
    app, engine, _ = await agent_api(tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        document = (await http.get("/openapi.json")).json()
    await engine.dispose()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    opened = document["paths"]["/api/complaints"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert opened["$ref"].endswith("/OpenBody")
    assert document["components"]["schemas"]["OpenBody"]["examples"]
