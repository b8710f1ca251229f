"""Building the ingest app for route tests: settings with every webhook configured, an
InMemoryPublisher, a fixed clock and a readiness check the test controls."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.testclient import TestClient

from services.ingest.http.app import create_app
from services.ingest.webforms.guards import RateLimiter
from shared.config import FileConfig, Settings, Webhooks
from shared.kafka.publisher import InMemoryPublisher

CTI_TOKEN = "cti-token-0123456789"
TWILIO_TOKEN = "twilio-auth-token-0123"
PUBLIC_BASE = "https://hub.example.com"
SHIPPING_SECRETS = {"aftership": "as-secret-0123", "easypost": "ep-secret-0123", "generic": "gen-secret-0123"}
FORM_SECRET = "form-secret-0123"
NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)

SIPGATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SIPGATE_PUBLIC_PEM = SIPGATE_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sipgate_sign(body: bytes) -> str:
    return base64.b64encode(SIPGATE_KEY.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def webhooks(**overrides: Any) -> Webhooks:
    config: dict[str, Any] = {
        "cti": {"token": CTI_TOKEN},
        "twilio": {"auth_token": TWILIO_TOKEN, "public_base_url": PUBLIC_BASE},
        "forms": {
            "contact": {"required": ["email", "message"], "topic": "contact", "consent_field": "consent",
                        "allowed_origins": ["https://shop.example"], "rate_limit_per_minute": 3},
            "partner": {"required": ["email"], "secret": FORM_SECRET},
        },
        "shipping": {name: {"secret": secret} for name, secret in SHIPPING_SECRETS.items()},
    }
    return Webhooks.model_validate({**config, **overrides})


@dataclass
class Readiness:
    checks: dict[str, str] = field(default_factory=lambda: {"kafka": "ok"})

    async def __call__(self) -> dict[str, str]:
        return self.checks


@dataclass
class IngestUnderTest:
    client: TestClient
    publisher: InMemoryPublisher
    readiness: Readiness


def ingest(publisher: InMemoryPublisher | None = None, region: str | None = "DE", **overrides: Any) -> IngestUnderTest:
    publisher = publisher or InMemoryPublisher()
    readiness = Readiness()
    settings = Settings(default_region=region, file=FileConfig(webhooks=webhooks(**overrides)))
    now = [0.0]
    app = create_app(settings, publisher, readiness=readiness, clock=lambda: NOW,
                     rate_limiter=RateLimiter(clock=lambda: now[0]))
    return IngestUnderTest(TestClient(app, raise_server_exceptions=False), publisher, readiness)
