"""Two `touchpoint imap` processes against one Dovecot and one PostgreSQL database share the
folders: every mail is captured once, and when one process is killed the other takes its
folders over once the lease expires."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from services.ingest.imap.leases import folder_leases
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.privacy.runtime import install
from tests.integration.test_imap_restart import opening, start_poller

pytestmark = pytest.mark.integration

FOLDERS = ("INBOX", "Orders", "Returns", "Sent")


def mail(folder: str, n: int) -> bytes:
    return (
        f"Message-ID: <{folder.lower()}-{n}@example.org>\r\nFrom: Kunde <kunde{n}@example.org>\r\n"
        f"To: support@shop.example\r\nSubject: {folder} {n}\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nBitte um Rueckruf.\r\n"
    ).encode()


async def lease_holders(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        rows = (await conn.execute(folder_leases.select())).all()
    return {row.folder: row.owner for row in rows}


async def test_two_pollers_share_the_folders_and_one_takes_over_when_the_other_is_killed(
    kafka_settings, imap_account, email_topic, postgres_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("TOUCHPOINT_IMAP_LEASE_SECONDS", "3")
    for folder in FOLDERS[1:]:
        imap_account.create_folder(folder)
    for folder in FOLDERS:
        imap_account.append_many(folder, [mail(folder, n) for n in range(5)])
    mailbox = f"mb{imap_account.username}"
    directions = ", ".join(f'{folder} = "{"outgoing" if folder == "Sent" else "incoming"}"' for folder in FOLDERS)
    config = tmp_path / "touchpoint.toml"
    config.write_text(
        f'[[mailboxes]]\nname = "{mailbox}"\nhost = "{imap_account.host}"\nport = {imap_account.port}\n'
        f'security = "plain"\nusername = "{imap_account.username}"\npassword = "{imap_account.password}"\n'
        f'folders = {{ {directions} }}\npoll_interval = 1\nidle = false\n'
    )
    await upgrade_async(postgres_url)  # the concurrent first start is tested with the migrations
    engine = make_engine(postgres_url)
    install(opening(kafka_settings, postgres_url))  # what the pollers sealed opens here
    pollers = [start_poller(config, kafka_settings, postgres_url, tmp_path / f"var{n}") for n in (1, 2)]
    try:
        await email_topic.wait_for(20, timeout=90)
        def split(holders: dict[str, str]) -> list[int]:
            return sorted(list(holders.values()).count(owner) for owner in set(holders.values()))

        deadline = time.monotonic() + 30
        while split(await lease_holders(engine)) != [2, 2]:  # the first hands two folders to the second
            assert time.monotonic() < deadline, f"folders not shared evenly: {await lease_holders(engine)}"
            await asyncio.sleep(0.2)
        assert sorted(await lease_holders(engine)) == sorted(FOLDERS)

        pollers[0].send_signal(signal.SIGKILL)
        pollers[0].wait(10)
        for folder in FOLDERS:
            imap_account.append_many(folder, [mail(folder, n) for n in range(5, 8)])
        await email_topic.wait_for(32, timeout=60)
        survivor = set((await lease_holders(engine)).values())
        assert len(survivor) == 1
        assert pollers[1].poll() is None, pollers[1].log_path.read_text()[-2000:]
    finally:
        for poller in pollers:
            if poller.poll() is None:
                poller.send_signal(signal.SIGTERM)
                poller.wait(30)
        await engine.dispose()

    events = await email_topic.drain()
    subjects = sorted(event.payload.subject for event in events)
    assert subjects == sorted(f"{folder} {n}" for folder in FOLDERS for n in range(8))  # each mail once
