"""One background task that runs a step every few seconds until stopped.

For watchers that must outlive a failing round (sampling the broker, polling the read model):
a failed step is logged and the next round tries again, so monitoring never ends a service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, step: Callable[[], Awaitable[object]], interval: float, what: str) -> None:
        self.step, self.interval, self.what = step, interval, what
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception as exc:  # the next round retries; the log says why this one failed
                log.warning("%s failed: %r", self.what, exc)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Idempotent: a running task is kept."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.what)

    async def stop(self) -> None:
        """Idempotent: cancels the task and waits until it has ended."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
