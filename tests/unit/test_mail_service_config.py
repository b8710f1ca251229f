"""`touchpoint imap` wiring: one watcher per configured mailbox folder, with the folder's
direction and the mailbox's import cut-off and historic boundary; bad dates name their key."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.ingest.imap.checkpoints import InMemoryCheckpointStore
from services.ingest.imap.main import build_watchers
from shared.blobs import InMemoryBlobStore
from shared.config import ConfigError, FileConfig, Mailbox, Settings
from shared.kafka.publisher import InMemoryPublisher


def settings_with(*mailboxes: Mailbox) -> Settings:
    return Settings(file=FileConfig(mailboxes=list(mailboxes)))


def mailbox(name: str = "support", **overrides) -> Mailbox:
    base = dict(name=name, host="imap.example.com", username="support@example.com", password="a-long-secret",
                folders={"INBOX": "incoming", "Sent": "outgoing"})
    return Mailbox(**{**base, **overrides})


def watchers_for(settings: Settings):
    return build_watchers(settings, InMemoryPublisher(), InMemoryCheckpointStore(), InMemoryBlobStore(),
                          connect=lambda box: box)


def test_every_folder_of_every_mailbox_gets_its_own_watcher():
    found = watchers_for(settings_with(mailbox("support"), mailbox("sales", folders={"Anfragen": "incoming"})))
    assert [(w.sync.mailbox, w.sync.folder, w.sync.direction) for w in found] == [
        ("support", "INBOX", "incoming"), ("support", "Sent", "outgoing"), ("sales", "Anfragen", "incoming"),
    ]
    assert found[2].connect().name == "sales"


def test_the_import_cut_off_and_historic_boundary_come_from_the_mailbox():
    [inbox, _] = watchers_for(settings_with(mailbox(import_since="2025-01-01", historic_before="2026-03-01", idle=False,
                                                     poll_interval=30)))
    assert inbox.sync.import_since == date(2025, 1, 1)
    assert inbox.sync.historic_before == datetime(2026, 3, 1, tzinfo=UTC)
    assert (inbox.use_idle, inbox.poll_interval) == (False, 30)


@pytest.mark.parametrize("key", ["import_since", "historic_before"])
def test_a_date_that_is_no_date_names_its_key(key):
    with pytest.raises(ConfigError, match=rf"mailboxes\[support\]\.{key}: not an ISO date"):
        watchers_for(settings_with(mailbox(**{key: "last spring"})))


def test_plain_imap_is_refused_for_a_remote_host():
    with pytest.raises(ValueError, match="only allowed for a loopback host"):
        mailbox(security="plain")
