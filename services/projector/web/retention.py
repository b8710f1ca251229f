"""What `/ops` shows of retention (`_retention.html`): the next classes and years to expire (when,
how many keys) and the pending restrictions (how many, the earliest end). Counts only: no
subject, no personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.privacy.restriction import pending
from services.projector.privacy.retention_job import upcoming
from shared.config import Settings
from shared.privacy.runtime import retention_rules

SHOWN = 8


async def retention_context(engine: AsyncEngine, settings: Settings) -> dict[str, Any]:
    rules = retention_rules(settings)
    return {"retention_rules": [(pattern, str(duration)) for pattern, duration in rules.rules],
            "next_expiries": (await upcoming(engine, rules))[:SHOWN],
            "restrictions": await pending(engine)}
