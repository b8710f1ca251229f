"""`touchpoint rebuild consents`: empties the consent read model and replays the consents and
customers topics from offset 0 through the same step and writer, with a progress bar. Stop
the projector first (its consent member writes the same tables)."""

from __future__ import annotations

import asyncio

from services.projector.consent.tables import consent_erased_subjects, consent_history, consent_states
from services.projector.consent.writer import PROJECTION, ConsentWriter, consent_step, consent_topics
from services.projector.replay import replay_view
from shared.config import Settings


def rebuild(settings: Settings, _recompute: bool = False) -> int:
    """Synchronous entry for the CLI; returns the number of records read."""
    return asyncio.run(rebuild_async(settings))


async def rebuild_async(settings: Settings, show_progress: bool = True) -> int:
    return await replay_view(
        settings, "consents", PROJECTION, [consent_history, consent_states, consent_erased_subjects],
        consent_topics(settings.topic_prefix),
        lambda engine, letters: consent_step(ConsentWriter(engine), letters, settings.topic_prefix), show_progress)
