"""Login throttling: after `free_failures` failed logins from one client, each further attempt
must wait, twice as long after every failure (1 s, 2 s, 4 s ... up to `max_wait`). A success
clears the record. Kept in memory per API process, bounded so that a flood of addresses
cannot exhaust it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    def __init__(self, free_failures: int = 5, base_wait: float = 1.0, max_wait: float = 900.0,
                 max_clients: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.free_failures, self.base_wait, self.max_wait = free_failures, base_wait, max_wait
        self.max_clients, self.clock = max_clients, clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def wait(self, key: str) -> float:
        """Seconds `key` must still wait before it may try again; 0 when it may now."""
        record = self._failures.get(key)
        if record is None or record.count < self.free_failures:
            return 0.0
        lockout = min(self.max_wait, self.base_wait * 2 ** (record.count - self.free_failures))
        return max(0.0, record.last + lockout - self.clock())

    def failed(self, key: str) -> None:
        record = self._failures.pop(key, None) or _Failures(0, 0.0)
        record.count += 1
        record.last = self.clock()
        self._failures[key] = record
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
