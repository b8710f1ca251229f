"""`touchpoint api`: the agent API (and UI routes mounted into it) under uvicorn."""

from __future__ import annotations

import asyncio

import uvicorn

from services.projector.api.app import create_app
from shared.config import Settings
from shared.db.migrate import upgrade_async


def run(settings: Settings) -> None:
    asyncio.run(upgrade_async(settings.db_url))
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                log_level=settings.log_level.lower(), loop="uvloop" if has_uvloop() else "asyncio")


def has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True
