"""Keeps one folder of one mailbox in sync for as long as the service runs: connect, catch up,
then IDLE (RFC 2177, re-issued well before 29 minutes) or poll, and after any failure
reconnect with exponential backoff. A watcher never raises: a broken mailbox or folder only
delays itself, never the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from imapclient.exceptions import LoginError

from services.ingest.imap import metrics
from services.ingest.imap.sync import FolderSource, FolderSync
from shared.kafka.errors import TransientError
from shared.oauth2.errors import SignInError

log = logging.getLogger(__name__)

IDLE_REISSUE_S = 25 * 60


class Connection(FolderSource, Protocol):
    supports_idle: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def noop(self) -> None: ...

    async def wait_for_change(self, timeout: float) -> bool: ...

    def interrupt(self) -> None: ...


@dataclass
class Backoff:
    initial: float = 1.0
    cap: float = 300.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * 2**self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.8, 1.2)  # spread reconnects of many mailboxes

    def reset(self) -> None:
        self.attempt = 0


class FolderWatcher:
    def __init__(
        self,
        sync: FolderSync,
        connect: Callable[[], Connection],
        poll_interval: float,
        use_idle: bool = True,
        backoff: Backoff | None = None,
    ) -> None:
        self.sync = sync
        self.connect = connect
        self.poll_interval = poll_interval
        self.use_idle = use_idle
        self.backoff = backoff or Backoff()
        self.idling = asyncio.Event()  # set while waiting for the server to report new mail
        self.failures = 0

    @property
    def name(self) -> str:
        return f"{self.sync.mailbox}/{self.sync.folder}"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            connection = self.connect()
            interrupter = asyncio.create_task(_interrupt_when(stop, connection))
            try:
                await connection.open()
                metrics.CONNECTED.labels(self.sync.mailbox, self.sync.folder).set(1)
                await self.sync.run(connection, stop)
                self.backoff.reset()
                await self._follow(connection, stop)
            except Exception as exc:  # retried below: reconnect and resume from the checkpoint
                self.failures += 1
                delay = self.backoff.next_delay()
                metrics.FAILURES.labels(self.sync.mailbox, type(exc).__name__).inc()
                log.warning("%s: %s: %s (%s); retrying in %.1f s", self.name, type(exc).__name__, exc, advice_for(exc), delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            finally:
                interrupter.cancel()
                self._set_idling(False)
                metrics.CONNECTED.labels(self.sync.mailbox, self.sync.folder).set(0)
                with contextlib.suppress(Exception):
                    await connection.close()

    def _set_idling(self, idling: bool) -> None:
        if idling:
            self.idling.set()
        else:
            self.idling.clear()
        metrics.IDLING.labels(self.sync.mailbox, self.sync.folder).set(int(idling))

    async def _follow(self, connection: Connection, stop: asyncio.Event) -> None:
        idle = self.use_idle and connection.supports_idle
        if not idle:
            log.info("%s: polling every %.0f s (IDLE %s)", self.name, self.poll_interval,
                     "disabled" if not self.use_idle else "not offered by the server")
        while not stop.is_set():
            if idle:
                self._set_idling(True)
                try:
                    await connection.wait_for_change(min(self.poll_interval, IDLE_REISSUE_S))
                finally:
                    self._set_idling(False)
            else:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
                if stop.is_set():
                    break
                await connection.noop()
            if stop.is_set():
                break
            # also after a quiet IDLE period: a cheap safety net for a change the server did not push
            await self.sync.run(connection, stop)


def advice_for(exc: Exception) -> str:
    """What an operator can do about a failure."""
    text = str(exc).lower()
    if isinstance(exc, SignInError):
        return "OAuth 2.0 sign-in failed: run touchpoint mailbox test for this mailbox"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "the server certificate is not trusted: fix it, or name its CA in the mailbox's tls_ca_file"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed: check the mailbox's security (tls on port 993, starttls on 143)"
    if isinstance(exc, LoginError) or "authenticat" in text:
        return "the server refused the login: check username and password (or password_file)"
    if "select failed" in text or "doesn't exist" in text or "nonexistent" in text:
        return "the folder does not exist: check the names in the mailbox's folders"
    if isinstance(exc, TransientError):
        return "Kafka or the database is unavailable; nothing was lost, the folder resumes from its checkpoint"
    if isinstance(exc, OSError):
        return "cannot reach the server: check host, port and the network"
    return "resuming from the last checkpoint"


async def _interrupt_when(stop: asyncio.Event, connection: Connection) -> None:
    await stop.wait()
    connection.interrupt()
