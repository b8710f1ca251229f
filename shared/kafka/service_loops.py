"""A log-following service with timers: a member of a consumer group that runs each batch
through a step, and a loop that fires what is due every interval, started and stopped
together (the sla service's complaints and callbacks).

Both loops retry after transient failures (Kafka or the database unreachable): the member
joins again and resumes from the positions stored in the database; the timer loop tries again
next round. A failure that will not go away ends `wait()` with that error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from shared.kafka.errors import classify
from shared.kafka.follower import LogStep, PositionsSource, follow_as_member_for_ever

log = logging.getLogger(__name__)


class FollowerWithTimers:
    def __init__(
        self, name: str, bootstrap_servers: str, topics: list[str], step: LogStep, stored_positions: PositionsSource,
        group_id: str, fire_due: Callable[[], Awaitable[None]], *,
        before_joining: Callable[[], Awaitable[None]] | None = None, timer_interval: float = 1.0,
        retry_delay: float = 2.0, client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name, self.group_id = name, group_id
        self._bootstrap, self._topics, self._step, self._stored = bootstrap_servers, topics, step, stored_positions
        self._fire_due, self._before_joining = fire_due, before_joining
        self._interval, self._retry = timer_interval, retry_delay
        self._client_options = dict(client_options or {})
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._follow_forever(), name=f"{self.name}-processor"),
                           asyncio.create_task(self._timers_forever(), name=f"{self.name}-timers")]

    async def stop(self) -> None:
        """Cancels both loops and waits for them; safe to call twice."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self) -> None:
        """Returns when a loop ends for good (a non-transient error); raises that error."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()

    async def _follow_forever(self) -> None:
        await follow_as_member_for_ever(self._bootstrap, self._topics, self._step, self._stored,
                                        name=f"{self.name} processor", retry_delay=self._retry,
                                        before_joining=self._before_joining, group_id=self.group_id,
                                        client_id=f"touchpoint-{self.name}", client_options=self._client_options)

    async def _timers_forever(self) -> None:
        while True:
            try:
                await self._fire_due()
            except Exception as exc:
                failure = classify(exc)
                # a timer has no record to dead-letter: log loudly and try again next round
                (log.warning if failure.transient else log.error)("%s timers: %s; retrying in %.0fs", self.name,
                                                                   failure.reason, self._retry)
                await asyncio.sleep(self._retry)
                continue
            await asyncio.sleep(self._interval)
