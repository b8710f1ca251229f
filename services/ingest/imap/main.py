"""`touchpoint imap`: one watcher per configured mailbox folder.

Start-up runs the migrations and creates the topics; then every folder is caught up (with a
progress bar on a terminal) and followed with IDLE or polling until SIGINT/SIGTERM. Several
instances share the folders: each watches only the folders whose lease it holds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.ingest.imap.checkpoints import CheckpointStore, SqlCheckpointStore
from services.ingest.imap.connection import ImapConnection
from services.ingest.imap.leases import FolderLeases, LeasedFolders, instance_name
from services.ingest.imap.signin_status import SignInReport, SqlSignInReport
from services.ingest.imap.parsing import MailParser, ProcessPoolParser
from services.ingest.imap.sync import EventSink, FolderSync, Progress as ProgressCallback
from services.ingest.imap.watcher import FolderWatcher
from shared.blobs import BlobSink
from shared.privacy.blobs import blob_store
from shared.config import ConfigError, Mailbox, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.errors import TransientError
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import ensure_for
from shared.logging import configure_logging
from shared.shutdown import stop_on_signals
from shared.oauth2.tokens import TokenSource
from shared.status_http import serve_status

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    configure_logging("imap", settings.log_level)
    asyncio.run(serve(settings))


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    if not settings.file.mailboxes:
        raise ConfigError("no [[mailboxes]] in the configuration file (TOUCHPOINT_CONFIG): nothing to poll")
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    try:
        await upgrade_async(settings.db_url)
    except (OSError, DBAPIError) as exc:
        where = make_url(settings.db_url).render_as_string(hide_password=True)
        raise TransientError(f"cannot migrate the database {where}: {exc}; check TOUCHPOINT_DATABASE_URL") from exc
    await ensure_for(settings)
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-imap")
    await publisher.start()
    try:
        serve_status("imap", settings, settings.imap_metrics_port)
    except ConfigError:
        await publisher.stop()
        raise
    # one pool of parser processes for all folders, writing blobs where the service does
    parser = ProcessPoolParser(settings.attachments_path, sealed=settings.encrypts_personal_data)
    with _progress_display() as progress:
        watchers = build_watchers(
            settings, publisher, SqlCheckpointStore(engine),
            blob_store(settings.attachments_path, settings.encrypts_personal_data), progress,
            connect=connector(settings.file.mailboxes, SqlSignInReport(engine)), parser=parser,
        )
        leases = FolderLeases(engine, instance_name(), timedelta(seconds=settings.imap_lease_seconds))
        by_folder = {(watcher.sync.mailbox, watcher.sync.folder): watcher for watcher in watchers}
        log.info("%s: %d folder(s) of %d mailbox(es), shared with the other instances by lease",
                 leases.owner, len(watchers), len(settings.file.mailboxes))
        try:
            await parser.start()
            await LeasedFolders(leases, list(by_folder), lambda folder, until: by_folder[folder].run(until)).run(stop)
        finally:
            parser.close()
            await publisher.stop()
            await engine.dispose()


def build_watchers(
    settings: Settings,
    sink: EventSink,
    store: CheckpointStore,
    blobs: BlobSink,
    progress: ProgressCallback | None = None,
    connect: Callable[[Mailbox], object] = ImapConnection,
    parser: MailParser | None = None,
) -> list[FolderWatcher]:
    watchers = []
    for mailbox in settings.file.mailboxes:
        import_since, historic_before = _dates(mailbox)
        for folder, direction in mailbox.folders.items():
            sync = FolderSync(
                mailbox=mailbox.name, folder=folder, direction=direction, sink=sink, store=store, blobs=blobs,
                topic_prefix=settings.topic_prefix, clock=lambda: datetime.now(UTC), import_since=import_since,
                historic_before=historic_before,
                progress=None if progress is None else _labelled(progress, mailbox.name), parser=parser,
            )
            watchers.append(
                FolderWatcher(sync, lambda box=mailbox: connect(box), mailbox.poll_interval, use_idle=mailbox.idle)  # type: ignore[misc]
            )
    return watchers


def connector(mailboxes: list[Mailbox], report: SignInReport | None = None) -> Callable[[Mailbox], ImapConnection]:
    """Connections that report their sign-ins; the folders of one OAuth 2.0 mailbox share its tokens."""
    tokens = {box.name: TokenSource(box, f"mailbox {box.name}") for box in mailboxes if box.uses_oauth2}
    return lambda box: ImapConnection(box, tokens=tokens.get(box.name), report=report)


def _dates(mailbox: Mailbox) -> tuple[date | None, datetime | None]:
    try:
        since = date.fromisoformat(mailbox.import_since) if mailbox.import_since else None
    except ValueError:
        raise ConfigError(f"mailboxes[{mailbox.name}].import_since: not an ISO date such as 2026-01-31") from None
    try:
        before = datetime.fromisoformat(mailbox.historic_before) if mailbox.historic_before else None
    except ValueError:
        raise ConfigError(f"mailboxes[{mailbox.name}].historic_before: not an ISO date such as 2026-01-31") from None
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    return since, before


def _labelled(progress: ProgressCallback, mailbox: str) -> ProgressCallback:
    return lambda folder, done, total: progress(f"{mailbox}/{folder}", done, total)


@contextlib.contextmanager
def _progress_display():  # type: ignore[no-untyped-def]
    """A rich bar per folder while a backlog is imported; log lines when not on a terminal."""
    if not sys.stderr.isatty():
        yield lambda name, done, total: log.info("%s: %d of %d mails imported", name, done, total)
        return
    bars = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    tasks: dict[str, int] = {}

    def update(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bars.add_task(name, total=total)
        bars.update(tasks[name], completed=done, total=total)

    with bars:
        yield update

