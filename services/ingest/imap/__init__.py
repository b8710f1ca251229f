"""IMAP ingest: mailboxes into `email.received` / `email.sent` events, read-only and resumable.

`parse_message` is pure (bytes in, event out); the watchers do the I/O: fetch with BODY.PEEK,
publish, and only then advance the per-folder checkpoint."""

from services.ingest.imap.parse import parse_message

__all__ = ["parse_message"]
