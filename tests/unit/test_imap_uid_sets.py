"""The UID set of a batch fetch: consecutive UIDs as ranges, so a backlog batch of hundreds
of mails is a short command, and never a UID that was not asked for."""

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
