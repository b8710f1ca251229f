"""The admin listener over real sockets: with the docs and metrics off the public port, the
admin address serves them, and both stop together."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn

from services.ingest.http.app import create_app
from shared.admin_http import serve_with_admin
from shared.config import Settings
from shared.kafka.publisher import InMemoryPublisher
from tests.infra.ports import free_port

pytestmark = pytest.mark.integration


async def test_docs_and_metrics_move_to_the_admin_address():
    public_port, admin_port = free_port(), free_port()
    app = create_app(Settings(public_docs=False, public_metrics=False), InMemoryPublisher())
    config = uvicorn.Config(app, host="127.0.0.1", port=public_port, log_config=None, lifespan="off")
    server = asyncio.create_task(serve_with_admin(config, app, "127.0.0.1", admin_port))
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(100):
                try:
                    await client.get(f"http://127.0.0.1:{admin_port}/healthz")
                    await client.get(f"http://127.0.0.1:{public_port}/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert (await client.get(f"http://127.0.0.1:{public_port}/openapi.json")).status_code == 404
            assert (await client.get(f"http://127.0.0.1:{public_port}/metrics")).status_code == 404
            document = (await client.get(f"http://127.0.0.1:{admin_port}/openapi.json")).json()
            assert "/webhooks/telephony/twilio" in document["paths"]
            assert (await client.get(f"http://127.0.0.1:{admin_port}/metrics")).status_code == 200
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
    with socket.socket() as probe:  # the admin listener stopped with the public server
        assert probe.connect_ex(("127.0.0.1", admin_port)) != 0
