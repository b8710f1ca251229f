"""Turning fetched mails into events, off the event loop: `parse_message` for each mail of a
batch, with a mail that no event can describe reported as a `ParseFailure` (the sync dead-
letters it) instead of raised. Blob store errors are raised: they are transient, and the batch
is retried with nothing skipped. Every blob is on disk when a batch's parse returns.

Two parsers: `ThreadParser` (one worker thread, any blob sink: tests and small mailboxes) and
`ProcessPoolParser` (worker processes writing to the same blob store by path). Parsing is
pure Python, so threads would take turns on the GIL; and each mail's blobs cost several
filesystem calls, whose waits overlap across processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from events.email import EmailReceived, EmailSent
from services.ingest.imap.parse import parse_message
from shared.blobs import BlobSink, BlobStore
from shared.privacy.blobs import blob_store

Direction = Literal["incoming", "outgoing"]


@dataclass(frozen=True)
class FetchedMail:
    uid: int
    raw: bytes
    internaldate: datetime


@dataclass(frozen=True)
class ParseJob:
    """What every mail of a batch shares."""

    mailbox: str
    folder: str
    direction: Direction
    uidvalidity: int
    historic_before: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class ParseFailure:
    reason: str  # "ExceptionType: message"
    trace: str


Parsed = EmailReceived | EmailSent | ParseFailure


class MailParser(Protocol):
    async def parse(self, mails: Sequence[FetchedMail], job: ParseJob) -> list[tuple[int, Parsed]]:
        """(uid, event or failure) for each mail, in the order given; blobs are durable on return."""

    def close(self) -> None: ...


def parse_fetched(mails: Sequence[FetchedMail], job: ParseJob, blobs: BlobSink) -> list[tuple[int, Parsed]]:
    with blobs.durable_batch():  # blobs are on disk before their events are published
        return [(mail.uid, _parse_one(mail, job, blobs)) for mail in mails]


def _parse_one(mail: FetchedMail, job: ParseJob, blobs: BlobSink) -> Parsed:
    try:
        return parse_message(
            mail.raw, mailbox=job.mailbox, folder=job.folder, uid=mail.uid, uidvalidity=job.uidvalidity,
            direction=job.direction, received_at=mail.internaldate, blobs=blobs, recorded_at=job.recorded_at,
            historic_before=job.historic_before,
        )
    except OSError:
        raise  # blob store trouble is transient: the batch is retried, nothing is skipped
    except Exception as exc:  # a mail no event can describe: the sync keeps it as a dead letter
        return ParseFailure(f"{type(exc).__name__}: {exc}", traceback.format_exc())


class ThreadParser:
    def __init__(self, blobs: BlobSink) -> None:
        self.blobs = blobs
        self._one_at_a_time = asyncio.Lock()  # a blob sink's durable batch is not shared by threads

    async def parse(self, mails: Sequence[FetchedMail], job: ParseJob) -> list[tuple[int, Parsed]]:
        async with self._one_at_a_time:
            return await asyncio.to_thread(parse_fetched, mails, job, self.blobs)

    def close(self) -> None:
        return None


def default_workers() -> int:
    # more processes than cores: a worker waiting on the filesystem leaves its core to another
    return max(2, 2 * (os.cpu_count() or 1))


class ProcessPoolParser:
    """Splits each batch over worker processes (started once, kept for the service's life)."""

    def __init__(self, blob_root: Path, workers: int | None = None, sealed: bool = False) -> None:
        self.workers = workers or default_workers()
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),  # no fork of a process with threads
            initializer=_start_worker, initargs=(str(blob_root), os.getpid(), sealed),
        )

    async def start(self) -> None:
        """Starts the workers now rather than on the first batch."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._pool, os.getpid) for _ in range(self.workers)))

    async def parse(self, mails: Sequence[FetchedMail], job: ParseJob) -> list[tuple[int, Parsed]]:
        if not mails:
            return []
        loop = asyncio.get_running_loop()
        size = -(-len(mails) // self.workers)
        chunks = [list(mails[start : start + size]) for start in range(0, len(mails), size)]
        results = await asyncio.gather(*(loop.run_in_executor(self._pool, _parse_in_worker, chunk, job) for chunk in chunks))
        return [item for chunk in results for item in chunk]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_worker_blobs: BlobStore | None = None


def _start_worker(blob_root: str, service_pid: int, sealed: bool = False) -> None:
    global _worker_blobs
    _worker_blobs = blob_store(Path(blob_root), sealed)
    threading.Thread(target=_exit_with_parent, args=(service_pid,), daemon=True, name="parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    # a service killed without a chance to stop its pool (SIGKILL, OOM) must not leave its
    # workers behind: an orphan's parent becomes another process (also when the service died
    # while this worker was still starting, hence the pid the service passed)
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _parse_in_worker(mails: list[FetchedMail], job: ParseJob) -> list[tuple[int, Parsed]]:
    assert _worker_blobs is not None, "the worker was started without its blob store"
    return parse_fetched(mails, job, _worker_blobs)
