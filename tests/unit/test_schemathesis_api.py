"""Schemathesis against the agent API's OpenAPI document, authenticated as an admin (who may
call every route), on a SQLite read model with an in-memory publisher: no answer is a server
error, whatever the path, query, headers and bodies."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.api.callbacks import callbacks_router
from services.projector.api.complaints import complaints_router
from services.projector.callbacks.rules import rules_from_settings as callback_rules
from shared.config import Settings
from shared.db.engine import make_engine, session_factory
from shared.db.migrate import upgrade
from shared.kafka.publisher import InMemoryPublisher
from tests.unit.agent_api_app import ADMIN_TOKEN, CONFIG

pytestmark = pytest.mark.fuzz
# strings a hostile caller sends on purpose, mixed into the generated ones; values a header can
# carry too (Latin-1, no NUL): NUL and lone surrogates are sent by tests/unit/test_agent_api_hostile.py
HOSTILE_TEXT = ["ünïcødé", "ÿþ", "' OR '1'='1", "9" * 300, "%00", "../..", "a" * 2000]
FUZZ_CONFIG = SchemathesisConfig.from_dict({
    "dictionaries": {"hostile": {"values": HOSTILE_TEXT}},
    "generation": {"database": "none", "deterministic": True,
                   "dictionaries": {"string": {"dictionary": "hostile", "probability": 0.3}}},
    "phases": {"coverage": {"enabled": False}},
})


def agent_api_app(data_dir: Path):
    config = Settings(data_dir=data_dir, file=CONFIG)
    upgrade(config.db_url)
    engine = make_engine(config.db_url)
    publisher = InMemoryPublisher()
    return create_app(config, engine=engine, publisher=publisher, routers=[
        complaints_router(config, session_factory(engine), publisher, Authorizer(config)),
        callbacks_router(Authorizer(config), callback_rules(config), None)])


DATA_DIR = Path(tempfile.mkdtemp(prefix="touchpoint-api-fuzz-"))
atexit.register(shutil.rmtree, DATA_DIR, ignore_errors=True)
schema = schemathesis.openapi.from_asgi("/openapi.json", agent_api_app(DATA_DIR), config=FUZZ_CONFIG)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_agent_api_never_answers_a_server_error(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, checks=[not_a_server_error])
