"""The whole agent API (customers, complaints, health) on a SQLite read model with an
in-memory publisher, for tests that exercise it over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.api.complaints import complaints_router
from shared.config import FileConfig, Settings
from shared.db.engine import make_engine, session_factory
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import InMemoryPublisher

AGENT_TOKEN = "agent-token-for-tests-0123456789abcdef"
ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef"
CONFIG = FileConfig.model_validate({"auth": {"tokens": [
    {"token": AGENT_TOKEN, "user": "anna", "role": "agent", "team": "care"},
    {"token": ADMIN_TOKEN, "user": "ada", "role": "admin"},
]}})


async def agent_api(tmp_path: Path, **settings: Any) -> tuple[FastAPI, AsyncEngine, InMemoryPublisher]:
    config = Settings(data_dir=tmp_path, file=CONFIG, **settings)
    await upgrade_async(config.db_url)
    engine = make_engine(config.db_url)
    publisher = InMemoryPublisher()
    authorizer = Authorizer(config)
    app = create_app(config, engine=engine, publisher=publisher,
                     routers=[complaints_router(config, session_factory(engine), publisher, authorizer)])
    return app, engine, publisher
