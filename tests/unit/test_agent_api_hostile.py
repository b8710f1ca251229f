"""The agent API refuses what it cannot store before any route runs: bodies over the limit
(declared or streamed), NUL characters and lone surrogates in fields, NUL in the query."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.agent_api_app import AGENT_TOKEN, agent_api

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}", "content-type": "application/json"}


@pytest.fixture
async def client(tmp_path):
    app, engine, publisher = await agent_api(tmp_path, api_max_body_bytes=4096)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http, publisher
    await engine.dispose()


@pytest.mark.parametrize("raw_value", [r"a\u0000b", r"\ud800", r"x\udfff"])
async def test_opening_a_complaint_with_nul_or_a_lone_surrogate_in_customer_id_is_a_422(client, raw_value):
    http, publisher = client
    body = ('{"subject": "broken parcel", "customer_id": "%s"}' % raw_value).encode()
    response = await http.post("/api/complaints", content=body, headers=AGENT)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("customer_id:")
    assert publisher.events == []


@pytest.mark.parametrize("field", ["customer_id", "team", "segment"])
async def test_opening_a_complaint_with_a_field_longer_than_the_complaint_tables_hold_is_a_422(client, field):
    http, publisher = client
    body = ('{"subject": "broken parcel", "customer_ref": "K-1", "%s": "%s"}' % (field, "x" * 65)).encode()
    response = await http.post("/api/complaints", content=body, headers=AGENT)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"{field}:")
    assert publisher.events == []


async def test_a_lone_surrogate_in_a_linked_identifier_is_a_422(client):
    http, _ = client
    response = await http.post("/api/customers/c1/link", content=b'{"kind": "email", "value": "\\ud800@x.org"}',
                               headers=AGENT)
    assert response.status_code == 422, response.text


async def test_a_declared_body_over_the_limit_is_a_413_before_parsing(client):
    http, publisher = client
    response = await http.post("/api/complaints", content=b'{"subject": "' + b"x" * 5000 + b'"}', headers=AGENT)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert publisher.events == []


async def test_a_streamed_body_over_the_limit_is_a_413(client):
    http, _ = client

    async def chunks():
        for _ in range(10):
            yield b"x" * 1000

    response = await http.post("/api/complaints", content=chunks(), headers=AGENT)
    assert response.status_code == 413


async def test_nul_in_the_query_string_is_a_422(client):
    http, _ = client
    response = await http.get("/api/customers", params={"q": "a\x00b"}, headers=AGENT)
    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]


async def test_a_bearer_token_with_non_ascii_characters_is_a_401(client):
    http, _ = client
    response = await http.get("/api/complaints", headers=[("Authorization", "Bearer tökén€".encode())])
    assert response.status_code == 401
