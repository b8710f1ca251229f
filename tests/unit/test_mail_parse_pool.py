"""Parsing in worker processes gives the same events as parsing in a thread, and the blobs
the workers write are in the service's blob store, on disk, when the batch returns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.ingest.imap.parsing import FetchedMail, ParseJob, ProcessPoolParser, ThreadParser
from shared.blobs import BlobStore

FIXTURES = Path(__file__).parents[1] / "fixtures" / "mail"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def fixture_mails() -> list[FetchedMail]:
    paths = sorted(p for p in FIXTURES.glob("*.eml") if p.name != "not_a_mail.eml")
    return [FetchedMail(uid, path.read_bytes(), NOW) for uid, path in enumerate(paths, start=1)]


async def test_worker_processes_parse_a_batch_like_a_thread_and_store_its_blobs(tmp_path):
    mails = fixture_mails()
    job = ParseJob("support", "INBOX", "incoming", uidvalidity=7, historic_before=NOW, recorded_at=NOW)
    in_thread = await ThreadParser(BlobStore(tmp_path / "thread")).parse(mails, job)
    pool = ProcessPoolParser(tmp_path / "pool", workers=2)
    try:
        await pool.start()
        in_workers = await pool.parse(mails, job)
    finally:
        pool.close()
    assert [uid for uid, _ in in_workers] == [mail.uid for mail in mails]
    assert in_workers == in_thread
    store = BlobStore(tmp_path / "pool")
    for mail, (_, event) in zip(mails, in_workers, strict=True):
        assert store.read(event.payload.raw.sha256) == mail.raw
