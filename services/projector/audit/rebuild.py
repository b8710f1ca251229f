"""`touchpoint rebuild audit`: empties the access audit's table and replays the `audit` topic
from its beginning through the same step and writer as the live path. Stop `touchpoint
projector` first (or rows read meanwhile show up once it catches up again)."""

from __future__ import annotations

import asyncio

from services.projector.audit.follow import audit_step, audit_topics
from services.projector.audit.projection import PROJECTION
from services.projector.audit.tables import access_audit
from services.projector.replay import replay_view
from shared.config import Settings


def rebuild(settings: Settings, _recompute: bool = False) -> int:
    """Synchronous entry for the CLI; returns the number of records read."""
    return asyncio.run(rebuild_async(settings))


async def rebuild_async(settings: Settings, show_progress: bool = True) -> int:
    return await replay_view(settings, "audit", PROJECTION, [access_audit], audit_topics(settings),
                             lambda engine, letters: audit_step(engine, letters, settings.topic_prefix), show_progress)
