"""Alembic migrations, run programmatically (`touchpoint up` and every service run them at start).

Each service adds its revisions under `shared/db/migrations/versions/` branching from the base
revision; `upgrade("heads")` applies every branch."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import OperationalError

from shared.db.engine import normalise_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


SQLITE_LOCK_RETRIES = 5


def upgrade(url: str, revision: str = "heads") -> None:
    for attempt in range(1, SQLITE_LOCK_RETRIES + 1):
        try:
            command.upgrade(alembic_config(url), revision)
            return
        except OperationalError as exc:
            # SQLite refuses at once (no busy wait) a transaction that read before another
            # connection switched the new file to WAL; the migrations are transactional, so
            # running them again resumes where the database stands
            if "database is locked" not in str(exc) or attempt == SQLITE_LOCK_RETRIES:
                raise
            time.sleep(0.2 * attempt)


async def upgrade_async(url: str, revision: str = "heads") -> None:
    # Alembic's env runs its own event loop; keep it off ours.
    await asyncio.to_thread(upgrade, url, revision)
