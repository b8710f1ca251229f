"""A copy of everything about a subject (GDPR Art. 15): `touchpoint customers export REF --out
FILE.zip`. The log is read from its beginning and every event about the customer (by its
reference, its id, or one of its addresses and numbers) is written decrypted, as JSON, with
the attachments and mail bodies it references, opened with their keys; plus the customer's
record as the read model holds it, its consents (`consents.json`), and who accessed the customer's data (`audit.json`, latest
first: the access audit's rows plus the records of this export itself). Erased data comes out
erased. Data of an erased customer still under a legal hold is restricted (GDPR Art. 18): its
keys open nothing, so it comes out erased too, and `restricted.json` lists those entries (type,
channel, time, until when they are kept).

An export is a read of the whole customer: it is recorded on the audit topic before anything is
read, and refused (`AuditUnavailable`) when that record is not acknowledged. The CLI records it
under the machine's user name, via `cli`; the customer page's download under the admin's."""

from __future__ import annotations

import asyncio
import getpass
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events.audit import CustomerAccessed
from events.envelope import Event, StoredBlob
from services.projector.audit.access import Read, Reader
from services.projector.audit.projection import apply as audit_rows
from services.projector.audit.queries import all_records, record_json
from services.projector.audit.recorder import AccessRecorder
from services.projector.catchup import interaction_topics
from services.projector.consent.export import consents_json
from services.projector.privacy.erasure import NothingToErase, PERSONAL_KINDS
from services.projector.privacy.restriction import restricted_entries
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.tables import TIMELINE
from shared.blobs import BlobNotFound, BlobStore
from shared.config import ConfigError, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.consumer import BatchReader
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.security import client_options
from shared.privacy.blobs import open_blob


async def identifiers_of(engine: AsyncEngine, customer_ref: str) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    customers, identities = TIMELINE.customers, TIMELINE.identities
    customer_id = customer_id_for(customer_ref)
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(customers).where(customers.c.id == customer_id))).first()
        if row is None:
            raise NothingToErase(f"no customer with reference {customer_ref!r}")
        claimed = (await conn.execute(sa.select(identities.c.kind, identities.c.value).where(
            identities.c.customer_id == customer_id, identities.c.kind.in_(PERSONAL_KINDS)))).all()
    record = {str(k): (list(v) if isinstance(v, tuple) else v) for k, v in row._asdict().items()}
    found = {("email", e) for e in row.emails or ()} | {("phone", p) for p in row.phones or ()}
    return record, found | {(r.kind, r.value) for r in claimed}


def is_about(event: Event, customer_ref: str, identifiers: set[tuple[str, str]]) -> bool:
    contact = event.contact
    if contact.customer_ref == customer_ref or event.payload_value("customer_ref") == customer_ref:
        return True
    if event.customer_id == customer_id_for(customer_ref):
        return True
    return any(value and (kind, value) in identifiers for kind, value in (("email", contact.email),
                                                                          ("phone", contact.phone)))


def blobs_in(node: Any) -> list[StoredBlob]:
    if isinstance(node, StoredBlob):
        return [node]
    if isinstance(node, (list, tuple)):
        return [blob for item in node for blob in blobs_in(item)]
    if hasattr(node, "model_fields"):
        return [blob for name in type(node).model_fields for blob in blobs_in(getattr(node, name))]
    return []


def export_read(customer_ref: str) -> Read:
    return Read("export", customer_id_for(customer_ref))


async def access_records(engine: AsyncEngine, customer_ref: str,
                         own: Sequence[CustomerAccessed] = ()) -> list[dict[str, Any]]:
    """The customer's access records, latest first; `own` (this export's records, acknowledged but
    perhaps not projected yet) are added unless the table has them already."""
    async with engine.connect() as conn:
        found = await all_records(conn, customer_id_for(customer_ref))
    known = {item["event_id"] for item in found}
    found += [record_json(row) for event in own for row in audit_rows(event) if row.event_id not in known]
    return sorted(found, key=lambda item: (item["accessed_at"], item["event_id"]), reverse=True)


async def export(settings: Settings, engine: AsyncEngine, customer_ref: str, out: Path | IO[bytes],
                 audited: Sequence[CustomerAccessed] = ()) -> int:
    """Writes the zip to `out` (a path or a seekable binary file); returns how many events it holds.
    `audited`: the access records of this export, added to `audit.json`."""
    record, identifiers = await identifiers_of(engine, customer_ref)
    events: list[Event] = []
    async with BatchReader(settings.bootstrap_servers, interaction_topics(settings), client_id="touchpoint-export",
                           client_options=client_options(settings)) as reader:
        async for batch in reader.batches():
            events += [item.event for item in batch.events if is_about(item.event, customer_ref, identifiers)]
    events.sort(key=lambda e: (e.occurred_at, str(e.event_id)))
    store = BlobStore(settings.attachments_path)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("customer.json", orjson.dumps(record, option=orjson.OPT_INDENT_2, default=str))
        archive.writestr("consents.json", await consents_json(engine, customer_ref, settings.file.consent.purposes))
        archive.writestr("events.json", orjson.dumps([e.model_dump(mode="json") for e in events],
                                                     option=orjson.OPT_INDENT_2))
        archive.writestr("restricted.json", orjson.dumps(
            await restricted_entries(engine, [customer_id_for(customer_ref)]), option=orjson.OPT_INDENT_2))
        archive.writestr("audit.json", orjson.dumps(await access_records(engine, customer_ref, audited),
                                                    option=orjson.OPT_INDENT_2))
        for event in events:
            for blob in blobs_in(event.payload):
                try:
                    data = open_blob(await asyncio.to_thread(store.read, blob.sha256), blob.key)
                except BlobNotFound:
                    continue  # erased, or never stored here
                name = re.sub(r"[^A-Za-z0-9._-]", "_", blob.filename or "blob")[:100]
                archive.writestr(f"attachments/{event.event_id}/{blob.sha256[:12]}-{name}", data)
    return len(events)


async def export_command(settings: Settings, customer_ref: str, out: Path) -> None:
    await upgrade_async(settings.db_url)
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-export")
    try:
        await identifiers_of(engine, customer_ref)  # an unknown customer is refused before anything is recorded
        reader = Reader(user=_login_name(), role="admin", client_address="local", via="cli")
        audited = await AccessRecorder(publisher).record(reader, [export_read(customer_ref)])
        count = await export(settings, engine, customer_ref, out, audited)
    except NothingToErase as exc:
        raise ConfigError(str(exc)) from None
    finally:
        await publisher.stop()
        await engine.dispose()
    print(f"exported {count} event(s) about {customer_ref} to {out}")


def _login_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


def run(settings: Settings, customer_ref: str, out: Path) -> None:
    asyncio.run(export_command(settings, customer_ref, out))
