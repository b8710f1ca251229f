"""Fetching a batch of bodies: one UID FETCH that only peeks, its UID set written as ranges
(a backlog batch of hundreds of mails is a short command, never a UID not asked for), and the
answer read whatever the order of its items."""

from __future__ import annotations

import pytest

from services.ingest.imap.connection import _uid_set


@pytest.mark.parametrize(("uids", "command"), [
    ([4], "4"),
    ([1, 2, 3], "1:3"),
    ([3, 1, 2, 2], "1:3"),
    ([1, 2, 3, 5, 7, 8, 9, 12], "1:3,5,7:9,12"),
    (list(range(1001, 1201)), "1001:1200"),
])
def test_consecutive_uids_become_ranges(uids, command):
    assert _uid_set(uids) == command


def test_a_range_covers_exactly_the_uids_asked_for():
    uids = [2, 3, 5, 8, 9, 10, 40]
    covered = set()
    for part in _uid_set(uids).split(","):
        low, _, high = part.partition(":")
        covered |= set(range(int(low), int(high or low) + 1))
    assert covered == set(uids)


class FakeImaplib:
    """What imaplib answers to one UID FETCH: (head, literal) tuples and plain lines."""

    def __init__(self, data: list) -> None:
        self.data, self.commands = data, []

    def uid(self, command: str, uid_set: str, items: str):  # type: ignore[no-untyped-def]
        self.commands.append((command, uid_set, items))
        return "OK", self.data


def connection_answering(data: list):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from services.ingest.imap.connection import ImapConnection
    from shared.config import Mailbox

    connection = ImapConnection(Mailbox(name="m", host="imap.invalid", username="u", password="p"))
    connection._client = SimpleNamespace(  # type: ignore[assignment]
        _imap=FakeImaplib(data), logout=lambda: None, shutdown=lambda: None)
    return connection


async def test_bodies_are_read_whatever_the_order_of_the_items_and_unsolicited_flags_are_ignored():
    from datetime import UTC, datetime

    connection = connection_answering([
        (b'1 (UID 7 INTERNALDATE "02-Mar-2026 10:00:00 +0100" BODY[] {5}', b"first"),
        b")",
        b"3 (FLAGS (\\Seen))",
        (b"2 (BODY[] {6}", b"second"),
        b' INTERNALDATE "02-Mar-2026 11:30:00 +0000" UID 8)',
    ])
    mails = await connection.fetch([7, 8, 9])  # 9 was expunged meanwhile
    await connection.close()
    assert [(m.uid, m.raw) for m in mails] == [(7, b"first"), (8, b"second")]
    assert mails[0].internaldate == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert mails[1].internaldate == datetime(2026, 3, 2, 11, 30, tzinfo=UTC)


async def test_a_batch_is_one_uid_fetch_that_only_peeks():
    connection = connection_answering([])
    await connection.fetch([3, 1, 2, 10])
    fake = connection._client._imap  # type: ignore[union-attr]
    await connection.close()
    assert fake.commands == [("FETCH", "1:3,10", "(UID INTERNALDATE BODY.PEEK[])")]
