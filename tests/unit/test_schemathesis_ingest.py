"""Schemathesis against the ingest service's OpenAPI document: every documented route, with
bodies generated from the documented native payloads and the configured forms, signed the
way the providers sign (and, separately, unsigned): no answer is a server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from services.ingest.http.app import create_app
from services.ingest.webforms.guards import RateLimiter
from shared.config import FileConfig, Settings
from shared.kafka.publisher import InMemoryPublisher
from tests.unit.signing_proxy import SigningProxy
from tests.unit.webhook_app import CTI_TOKEN, FORM_SECRET, PUBLIC_BASE, SHIPPING_SECRETS, TWILIO_TOKEN, webhooks

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
# (values a header can carry too: Latin-1, no NUL; NUL is in tests/unit/test_hostile_webhooks.py)
HOSTILE_TEXT = ["ünïcødé", "ÿþ", "9" * 300, "%00", "{}", "[]", "\\", "a" * 2000]


def fuzz_config(coverage: bool) -> SchemathesisConfig:
    """Boundary cases of every documented field (the coverage phase) where the budget allows,
    plus generated cases with hostile strings mixed in."""
    return SchemathesisConfig.from_dict({
        "dictionaries": {"hostile": {"values": HOSTILE_TEXT}},
        "generation": {"database": "none", "deterministic": True,
                       "dictionaries": {"string": {"dictionary": "hostile", "probability": 0.3}}},
        "phases": {"coverage": {"enabled": coverage, "unexpected-methods": []}},
    })


def ingest_app():
    forms = {
        "contact": {"required": ["email", "message"], "topic": "contact", "consent_field": "consent",
                    "rate_limit_per_minute": 0},
        "partner": {"required": ["email"], "secret": FORM_SECRET},
    }
    config = Settings(default_region="DE", file=FileConfig(webhooks=webhooks(forms=forms)))
    return create_app(config, InMemoryPublisher(), rate_limiter=RateLimiter())


PUBLIC = ingest_app()
SIGNED = SigningProxy(PUBLIC, cti_token=CTI_TOKEN, twilio_token=TWILIO_TOKEN, public_base=PUBLIC_BASE,
                      shipping_secrets=SHIPPING_SECRETS, form_secrets={"partner": FORM_SECRET})
signed_schema = schemathesis.openapi.from_asgi("/openapi.json", SIGNED, config=fuzz_config(coverage=True))
unsigned_schema = schemathesis.openapi.from_asgi("/openapi.json", ingest_app(), config=fuzz_config(coverage=False))


@signed_schema.parametrize()
@FUZZ
def test_signed_webhooks_never_answer_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])


@unsigned_schema.parametrize()
@FUZZ
def test_unsigned_webhooks_never_answer_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])


def test_the_signed_fuzz_run_reaches_the_publisher():
    """The signing works: a documented body that is valid gets through to Kafka's port."""
    from fastapi.testclient import TestClient

    client = TestClient(SIGNED)
    response = client.post("/webhooks/shipping/generic", json={"tracking_number": "1Z", "status": "delivered"})
    assert response.status_code == 200, response.text
    response = client.post("/webhooks/telephony/twilio", data={"CallSid": "CA1", "CallStatus": "ringing",
                                                               "From": "+4930123456", "To": "+4930654321"})
    assert response.status_code == 200, response.text
