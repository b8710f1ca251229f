"""Crypto-shredding end to end, on the real Kafka, PostgreSQL and Dovecot, with every service a
process of its own and privacy on: two customers write in on every channel (mail fetched over
IMAP with an attachment, a call, a web form, a parcel update); one is erased; afterwards none of
that customer's values is anywhere: not in the broker's segment files, not in a dump of the
database, not in the blob folder, not in the services' logs. A rebuild keeps it so, and the
other customer is untouched. Compression is off, so a plaintext leak would be visible on disk."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.demo.traffic import mail
from services.projector.timeline.rows import contact_id_for, customer_id_for
from shared.db.migrate import upgrade_async
from shared.kafka.topics import ensure_for
from tests.e2e.stack import AGENT, CONFIG, ROOT, Stack, make_stack
from tests.e2e.traffic import cti, form, parcel, timeline

ADMIN = "privacy-admin-token-0123456789abcdef"
SERVICES = ("ingest", "imap", "projector", "sla", "api")


@dataclass(frozen=True)
class Person:
    ref: str
    name: str
    email: str
    phone: str
    subject: str
    body: str
    attachment: str

    @classmethod
    def make(cls, label: str) -> Person:
        tag = secrets.token_hex(4)
        return cls(ref=f"K-{label}-{tag}", name=f"Ottilie Quastenberg{tag}", email=f"o.q.{tag}@example.org",
                   phone=f"+49151{secrets.randbelow(10**8):08d}", subject=f"Reklamation Kühlschrank {tag}",
                   body=f"Mein Kühlschrank brummt seit Dienstag {tag}", attachment=f"Kaufbeleg Nummer {tag}")

    @property
    def customer_id(self) -> str:
        return customer_id_for(self.ref)

    def secrets(self) -> list[bytes]:
        """What must be gone after erasure (the number also without its plus, as telephony sends it)."""
        return [value.encode() for value in (self.name, self.email, self.phone[1:], self.subject, self.body,
                                            self.attachment)]


def start(stack: Stack, names: tuple[str, ...]) -> None:
    logs = stack.settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name in names:
        out = (logs / f"{name}.log").open("wb")
        stack.processes[name] = subprocess.Popen([sys.executable, "-m", "shared.cli", name], cwd=ROOT, env=stack.env,
                                                 stdout=out, stderr=subprocess.STDOUT)


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=ROOT, env=stack.env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


async def capture(stack: Stack, person: Person, imap_account, n: int) -> None:  # type: ignore[no-untyped-def]
    raw, _ = mail(person.email, person.name, "support@demo.example", person.subject, person.body, datetime.now(UTC),
                  attachment=("beleg.txt", person.attachment.encode()))
    imap_account.append("INBOX", raw)
    await cti(stack, "newCall", f"call-{person.ref}", person.phone)
    await cti(stack, "hangup", f"call-{person.ref}", person.phone, cause="normalClearing")
    await form(stack, "contact", {"email": person.email, "name": person.name, "phone": person.phone,
                                  "subject": person.subject, "message": person.body})
    await parcel(stack, f"TRK{n}{secrets.token_hex(3)}", "exception", person.ref, person.email)


async def wait_for(check, seconds: float, stack: Stack, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        stack.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen after {seconds} s")
        await asyncio.sleep(0.3)


def hits(paths: list[Path], needles: list[bytes]) -> list[str]:
    found = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found += [f"{needle.decode()} in {path}" for needle in needles if needle in data]
    return found


def pg_dump(postgres, url: str, target: Path) -> Path:  # type: ignore[no-untyped-def]
    database = url.rsplit("/", 1)[1]
    with target.open("wb") as out:
        subprocess.run([str(postgres.bin_dir / "pg_dump"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres",
                        database], stdout=out, check=True, env={**os.environ, "PGPASSWORD": "postgres"}, timeout=120)
    return target


@pytest.fixture
async def private_stack(kafka_bootstrap, session_dir, postgres, postgres_url, imap_account):  # type: ignore[no-untyped-def]
    config = CONFIG + f"""
[[auth.tokens]]
token = "{ADMIN}"
user = "ada"
role = "admin"

[[mailboxes]]
name = "support"
host = "{imap_account.host}"
port = {imap_account.port}
security = "plain"
username = "{imap_account.username}"
password = "{imap_account.password}"
folders = {{ INBOX = "incoming" }}

[privacy]
encrypt = true
"""
    stack = make_stack(session_dir / f"privacy-{secrets.token_hex(3)}", kafka_bootstrap)
    (Path(stack.env["TOUCHPOINT_CONFIG"])).write_text(config)
    stack.env.update({"TOUCHPOINT_DATABASE_URL": postgres_url, "TOUCHPOINT_KAFKA_COMPRESSION": "none",
                      "TOUCHPOINT_LOG_LEVEL": "INFO"})
    stack.settings = stack.settings.model_copy(update={"database_url": postgres_url})
    await ensure_for(stack.settings)
    await upgrade_async(postgres_url)
    start(stack, SERVICES)
    try:
        await stack.wait_ready()
        yield stack
    finally:
        stack.stop()


async def test_an_erased_customer_leaves_no_plaintext_in_the_broker_database_blobs_or_logs(
        private_stack, imap_account, postgres, postgres_url, kafka_bootstrap, session_dir, tmp_path):
    stack = private_stack
    erased, kept = Person.make("A"), Person.make("B")
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_ref,name,email,phone\n" + "".join(
        f"{p.ref},{p.name},{p.email},{p.phone}\n" for p in (erased, kept)))
    cli(stack, "customers", "import", str(csv))
    for n, person in enumerate((erased, kept)):
        await capture(stack, person, imap_account, n)
    stranger = f"stranger.{secrets.token_hex(4)}@example.net"
    await form(stack, "contact", {"email": stranger, "message": f"Hallo von {stranger}"})

    async def all_channels(person: Person):  # type: ignore[no-untyped-def]
        entries = await timeline(stack, person.customer_id)
        return entries if {"email", "phone", "webform", "shipping"} <= {e["channel"] for e in entries} else None

    for person in (erased, kept):
        await wait_for(lambda p=person: all_channels(p), 120, stack, f"every channel of {person.ref}")
    await wait_for(lambda: timeline(stack, contact_id_for(("email", stranger))), 60, stack, "the stranger's form")
    kept_before = await timeline(stack, kept.customer_id)

    data_dir = stack.settings.data_dir
    blobs = data_dir / "attachments"
    assert hits([blobs], [erased.attachment.encode()]) == [], "blobs are sealed even before erasure"
    dump = pg_dump(postgres, postgres_url, tmp_path / "before.sql")
    assert hits([dump], [erased.subject.encode(), kept.subject.encode()]), "the read model holds plaintext to erase"

    done = cli(stack, "customers", "erase", erased.ref)
    assert "key(s) destroyed" in done.stdout
    async with httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {AGENT}"}) as agent:
        refused = await agent.post(f"/api/customers/{contact_id_for(('email', stranger))}/erase")
    assert refused.status_code == 403
    async with httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
        accepted = await admin.post(f"/api/customers/{contact_id_for(('email', stranger))}/erase")
    assert accepted.status_code == 202, accepted.text

    async def redacted():  # type: ignore[no-untyped-def]
        entries = await timeline(stack, erased.customer_id)
        gone = entries and all(e["summary"] == "erased" for e in entries)
        stranger_gone = all(e["summary"] == "erased" for e in await timeline(stack, contact_id_for(("email", stranger))))
        return entries if gone and stranger_gone else None

    entries = await wait_for(redacted, 60, stack, "the redacted timeline")
    assert {"email", "phone", "webform", "shipping"} <= {e["channel"] for e in entries}, "channel and time stay"

    def broker_files() -> list[Path]:
        """This stack's topic folders in the broker's data (`<topic>-<partition>`); an external
        test broker's files are not ours to read. The session's other tests' topics hold none
        of this test's values, and reading them all would take minutes."""
        broker = session_dir / "kafka" / "data"
        if not broker.exists():
            return []
        return [folder for folder in broker.iterdir() if folder.name.startswith(stack.settings.topic_prefix)]

    def leaks(label: str) -> list[str]:
        paths = [blobs, data_dir / "logs", pg_dump(postgres, postgres_url, tmp_path / f"{label}.sql"), *broker_files()]
        return hits(paths, [*erased.secrets(), stranger.encode()])

    # the sla process (complaints, callbacks) and the notifier apply the erasure on their own time
    deadline = asyncio.get_running_loop().time() + 30
    while (found := leaks("after-erasure")) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(1)
    assert found == []
    if (session_dir / "kafka" / "data").exists():  # the search reads the segment files: what is not personal data is plain there
        assert broker_files(), "the stack's topic folders are found"
        assert hits(broker_files(), [kept.ref.encode()]), "the broker's files are searched uncompressed"
    assert any(p.is_file() for p in blobs.rglob("*")), "the mails' blobs are in the searched folder"
    assert hits([pg_dump(postgres, postgres_url, tmp_path / "control.sql")], [kept.subject.encode(), kept.name.encode()]), \
        "the other customer is still readable (so the search above could find plaintext)"

    cli(stack, "rebuild", "timeline")
    assert leaks("after-rebuild") == []
    after_rebuild = json.dumps(await timeline(stack, erased.customer_id), ensure_ascii=False)
    assert not [secret for secret in erased.secrets() if secret.decode() in after_rebuild]
    print("erased customer's timeline after the rebuild:", after_rebuild[:2000])
    kept_after = await timeline(stack, kept.customer_id)
    assert [(e["event_id"], e["summary"]) for e in kept_after] == [(e["event_id"], e["summary"]) for e in kept_before]
    assert any(kept.subject in e["summary"] for e in kept_after) or any(kept.subject in str(e["details"]) for e in kept_after)

    copy = tmp_path / "kept.zip"
    cli(stack, "customers", "export", kept.ref, "--out", str(copy))
    with zipfile.ZipFile(copy) as archive:
        events = archive.read("events.json").decode()
        attachments = [archive.read(name) for name in archive.namelist() if name.startswith("attachments/")]
    assert kept.subject in events and kept.body in events and kept.phone in events
    assert {"email.received", "call.started", "webform.submitted", "shipment.status_changed"} <= {
        e["type"] for e in json.loads(events)}
    assert any(kept.attachment.encode() in data for data in attachments)
    erased_copy = tmp_path / "erased.zip"
    cli(stack, "customers", "export", erased.ref, "--out", str(erased_copy))
    with zipfile.ZipFile(erased_copy) as archive:  # the zip is compressed: look inside too
        inside = b"".join(archive.read(name) for name in archive.namelist())
    assert not [secret for secret in erased.secrets() if secret in inside]
