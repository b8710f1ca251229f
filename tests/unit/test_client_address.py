"""The real client behind a reverse proxy: X-Forwarded-For counts only when the direct peer
is a trusted proxy, read from the right up to the first untrusted hop. The form rate limit
and the log lines use that address."""

from __future__ import annotations

import io
import logging
from ipaddress import ip_network

from starlette.requests import HTTPConnection

from shared.client_address import client_address
from shared.logging import JsonFormatter
from fastapi.testclient import TestClient

from services.ingest.http.app import create_app
from shared.config import FileConfig, Settings
from shared.kafka.publisher import InMemoryPublisher
from tests.unit.webhook_app import webhooks

PROXIES = (ip_network("10.0.0.0/8"),)


def connection(peer: str, *forwarded: str) -> HTTPConnection:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return HTTPConnection({"type": "http", "client": (peer, 40000), "headers": headers})


def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address(connection("10.0.0.5", "203.0.113.7"), ()) == "10.0.0.5"


def test_a_trusted_proxy_names_the_client():
    assert client_address(connection("10.0.0.5", "203.0.113.7"), PROXIES) == "203.0.113.7"


def test_an_untrusted_peer_cannot_claim_another_address():
    assert client_address(connection("198.51.100.9", "203.0.113.7"), PROXIES) == "198.51.100.9"


def test_a_spoofed_first_hop_is_skipped_up_to_the_first_untrusted_one():
    # the client sent "1.2.3.4" itself; our proxy appended the address it saw
    assert client_address(connection("10.0.0.5", "1.2.3.4, 203.0.113.7"), PROXIES) == "203.0.113.7"
    assert client_address(connection("10.0.0.5", "1.2.3.4, 203.0.113.7, 10.1.1.1"), PROXIES) == "203.0.113.7"


def test_a_garbled_header_falls_back_to_the_peer():
    assert client_address(connection("10.0.0.5", "not-an-ip, ünïcode"), PROXIES) == "10.0.0.5"


def behind_proxy(trusted: str = "127.0.0.0/8") -> TestClient:
    settings = Settings(trusted_proxies=trusted, file=FileConfig(webhooks=webhooks()))
    return TestClient(create_app(settings, InMemoryPublisher()), client=("127.0.0.1", 50000))


def public_form_post(client: TestClient, forwarded: str):
    return client.post("/webhooks/forms/contact", content=b"email=a@example.org&message=hi",
                       headers={"content-type": "application/x-www-form-urlencoded",
                                "Origin": "https://shop.example", "X-Forwarded-For": forwarded})


def test_the_form_rate_limit_counts_real_clients_behind_a_trusted_proxy():
    client = behind_proxy()
    statuses = [public_form_post(client, "203.0.113.7").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert public_form_post(client, "203.0.113.8").status_code == 200  # another client behind the same proxy


def test_without_trusted_proxies_a_forwarded_header_does_not_dodge_the_rate_limit():
    client = behind_proxy(trusted="")
    statuses = [public_form_post(client, f"203.0.113.{i}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_log_lines_of_a_request_carry_the_real_client():
    client = behind_proxy()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("ingest"))
    logger = logging.getLogger("touchpoint.ingest")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert public_form_post(client, "203.0.113.7").status_code == 200
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert '"client":"203.0.113.7"' in stream.getvalue()
