"""Hostile values through every capture channel into the real Kafka, and from there into every
consumer on PostgreSQL: the webhooks (CTI, Twilio, AfterShip, generic shipping, web forms) over
HTTP into the ingest app, mail appended to Dovecot and captured by the IMAP sync, a customer CSV
through the import, and the agent API's actions. No request gets a 5xx, whatever a channel
accepted is either in the views or in a dead letter topic, and the normal input sent after the
hostile values is applied. (Rendering of hostile mail: tests/e2e/test_hostile_mail; stored
events of any shape: test_hostile_events.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import quopri
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from events.envelope import Event
from services.ingest.http.app import create_app as ingest_app
from services.ingest.imap.checkpoints import SqlCheckpointStore
from services.ingest.imap.connection import ImapConnection
from services.ingest.imap.sync import FolderSync
from services.ingest.telephony.signatures import twilio_signature
from services.projector.api.app import create_app as api_app
from services.projector.api.auth import Authorizer
from services.projector.api.callbacks import callbacks_router
from services.projector.api.complaints import complaints_router
from services.projector.callbacks.decide import callback_id_for
from services.projector.callbacks.rules import rules_from_settings as callback_rules
from services.projector.customers_csv import BadFile, parse_customers
from services.projector.customers_import import publish_all, read_csv
from services.projector.timeline.rows import customer_id_for
from shared.blobs import BlobStore
from shared.config import ConfigError, FileConfig, Mailbox, Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.kafka.publisher import KafkaPublisher
from tests.callback_calls import missed
from tests.fixtures import raw
from tests.hostile import LONG_ADDRESS, nested
from tests.hostile_consumers import Consumers

pytestmark = pytest.mark.integration

CTI_TOKEN = "cti-token-hostile"
TWILIO_TOKEN = "twilio-token-hostile"
AGENT = {"Authorization": "Bearer agent-token-hostile"}
PUBLIC_BASE = "https://hub.example.com"
SECRETS = {"aftership": "aftership-secret-hostile", "generic": "generic-secret-hostile"}
NORMAL = "Anna Agent"


class Address(str):
    """A hostile value meant for an address field (where a channel has one)."""


HOSTILE: dict[str, Any] = {
    "nul": "Erika\x00Muster",
    "other C0 controls": "\x01\x07\x1b[31mred\x7f\x0b",
    "lone surrogate": "broken \ud800 pair",
    "over-long": "x" * 200_000,
    "RTL override": "\u202egpj.exe",
}
JSON_ONLY = {"400-level nesting": nested(400)}
ADDRESSES = {"nul in the address": Address("max\x00@example.net"), "over-long address": Address(LONG_ADDRESS)}


def configured(settings: Settings, postgres_url: str) -> Settings:
    file = FileConfig.model_validate({
        "webhooks": {
            "cti": {"token": CTI_TOKEN},
            "twilio": {"auth_token": TWILIO_TOKEN, "public_base_url": PUBLIC_BASE},
            "shipping": {name: {"secret": secret} for name, secret in SECRETS.items()},
            "forms": {"contact": {"required": ["email", "message"], "allowed_origins": ["https://shop.example"]}},
        },
        "auth": {"tokens": [{"token": "agent-token-hostile", "user": "anna", "role": "agent"}]},
    })
    return settings.model_copy(update={"file": file, "default_region": "DE", "database_url": postgres_url})


def form_body(fields: list[tuple[str, str]]) -> bytes:
    # a lone surrogate goes out as the bytes a broken client would send (%ED%A0%80)
    return "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in fields).encode()


def broken_utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def encoded_words(text: str) -> str:
    """RFC 2047 words of at most 45 bytes each, folded: how a header carries what a raw byte cannot."""
    data = broken_utf8(text)
    words = [f"=?utf-8?b?{base64.b64encode(data[i:i + 45]).decode()}?=" for i in range(0, len(data), 45)]
    return "\r\n ".join(words) or '""'


def mail(n: int, value: str, junk: bool = True) -> bytes:
    """The value in the Subject, the From display name, the text (quoted-printable, so a NUL is
    `=00`) and the HTML part (base64); with `junk`, raw NUL and 8-bit bytes in In-Reply-To and
    another header."""
    address = value if isinstance(value, Address) else f"sender{n}@example.org"
    text = quopri.encodestring(broken_utf8(f"Hello,\n{value}\nregards")).decode().replace("\n", "\r\n")
    page = base64.encodebytes(broken_utf8(f"<p>{html.escape(value)}</p>")).decode().replace("\n", "\r\n")
    head = "".join(f"{line}\r\n" for line in [
        f"From: {encoded_words(value)} <{address}>", "To: support@shop.example", f"Subject: {encoded_words(value)}",
        f"Message-ID: <hostile-{n}@example.org>", "Date: Mon, 02 Mar 2026 09:15:30 +0000", "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="b"',
    ]).encode()
    junk_lines = f"In-Reply-To: <junk\x00\xff{n}@example.org>\r\nX-Junk: \x00\xfe\xff\x80 8-bit junk\r\n".encode("latin-1")
    body = (f"\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
            f"\r\n{text}\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
            f"\r\n{page}\r\n--b--\r\n").encode()
    return head + (junk_lines if junk else b"") + body


@dataclass
class AgentTarget:
    """What an agent acts on: an open complaint, an open callback, two customer records."""

    complaint_id: str
    callback_id: str
    into: str
    other: str


@dataclass
class RecordingSink:
    """The IMAP sync's Kafka publisher, noting the ids of the events it published."""

    publisher: KafkaPublisher
    published: list[str] = field(default_factory=list)

    async def publish(self, events: Sequence[Event]) -> None:
        await self.publisher.publish(events)
        self.published += [str(e.event_id) for e in events]

    async def send_raw(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        await self.publisher.send_raw(topic, value, key, headers)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclass
class Capture:
    """The real capture paths, opened once for the test; each channel below delivers one value
    and answers the ids of the events its path accepted (none when it refused the value)."""

    settings: Settings
    ingest: httpx.AsyncClient
    api: httpx.AsyncClient
    imap: FolderSync
    imap_sink: RecordingSink
    connection: ImapConnection
    append: Callable[[bytes], int]
    tmp: Path
    targets: list[AgentTarget] = field(default_factory=list)

    async def post(self, path: str, body: bytes, headers: dict[str, str], what: str) -> list[str]:
        response = await self.ingest.post(path, content=body, headers=headers)
        assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
        return response.json()["event_ids"] if response.status_code == 200 else []

    async def cti(self, n: int, value: Any) -> list[str]:
        fields = [("event", "newCall"), ("from", f"49151{n:08d}"), ("to", "4930555000100"), ("direction", "in"),
                  ("callId", f"HOSTILE{n:04d}"), ("user[]", value), ("user[]", "Ben Agent")]
        return await self.post(f"/webhooks/telephony/cti?token={CTI_TOKEN}", form_body(fields),
                               {"content-type": "application/x-www-form-urlencoded"}, "cti")

    async def twilio(self, n: int, value: Any) -> list[str]:
        fields = [("CallSid", f"CAhostile{n:026d}"), ("AccountSid", "AC" + "1" * 32), ("From", f"+49151{n:08d}"),
                  ("To", "+4930555000100"), ("Direction", "inbound"), ("CallStatus", "no-answer"),
                  ("CallerName", value), ("Timestamp", "Mon, 02 Mar 2026 09:15:30 +0000")]
        body = form_body(fields)
        # signed over the parameters as the route decodes them, so that the content is what is judged
        signature = twilio_signature(TWILIO_TOKEN, f"{PUBLIC_BASE}/webhooks/telephony/twilio",
                                     parse_qsl(body.decode(), keep_blank_values=True))
        return await self.post("/webhooks/telephony/twilio", body, {
            "content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}, "twilio")

    async def aftership(self, n: int, value: Any) -> list[str]:
        data = json.loads(raw("aftership/tracking_update_exception.json"))
        data["event_id"] = f"5b3c6a1e-8f0d-4c2b-9e7a-{n:012d}"
        msg = data["msg"]
        msg.update(id=f"hostile{n}", tracking_number=f"0034{n:016d}", customer_name=value, title=value,
                   emails=[f"hostile{n}@example.org"], custom_fields={"customer_ref": f"K-{n}", "note": value})
        for checkpoint in msg["checkpoints"]:
            checkpoint["message"] = value
        body = json.dumps(data).encode()  # json.dumps writes a lone surrogate as its escape
        digest = base64.b64encode(hmac.new(SECRETS["aftership"].encode(), body, hashlib.sha256).digest()).decode()
        return await self.post("/webhooks/shipping/aftership", body, {
            "content-type": "application/json", "aftership-hmac-sha256": digest}, "aftership")

    async def generic(self, n: int, value: Any) -> list[str]:
        data = json.loads(raw("generic/delivered.json"))
        data.update(event_id=f"hostile-{n}", tracking_number=f"1ZHOSTILE{n:08d}", message=value, location=value,
                    email=f"generic{n}@example.org")
        body = json.dumps(data).encode()
        digest = hmac.new(SECRETS["generic"].encode(), body, hashlib.sha256).hexdigest()
        return await self.post("/webhooks/shipping/generic", body, {
            "content-type": "application/json", "X-Touchpoint-Signature": digest}, "generic")

    async def form(self, n: int, value: Any) -> list[str]:
        # the route takes 10 submissions a minute from one address: this row stays below that
        fields = {"name": "Max Beispiel", "email": f"max{n}@example.net", "subject": "Parcel damaged",
                  "message": "The box arrived crushed.", "topic": "complaint"}
        if isinstance(value, Address):
            fields["email"] = value
        elif isinstance(value, str):
            fields.update(name=value, subject=value, message=value)
        else:
            fields["message"] = value
        return await self.post("/webhooks/forms/contact", json.dumps(fields).encode(),
                               {"content-type": "application/json", "Origin": "https://shop.example"}, "form")

    async def imap_mail(self, n: int, value: Any) -> list[str]:
        uid = self.append(mail(n, value, junk=value != NORMAL))
        published = await self.imap.run(self.connection)
        assert published == 1, f"mail {uid} became no event (the sync dead-letters what it cannot parse)"
        return [self.imap_sink.published.pop()]

    async def csv_import(self, n: int, value: Any) -> list[str]:
        quoted = '"' + str(value).replace('"', '""') + '"'
        email = quoted if isinstance(value, Address) else f"csv{n}@example.org"
        lines = ["customer_ref,name,email,company,notes",
                 f"K-CSV-{n},{quoted},{email},{quoted},\"first line\r\n{quoted[1:-1]}\nlast line\""]
        path = self.tmp / f"customers-{n}.csv"
        path.write_bytes(broken_utf8("\r\n".join(lines) + "\r\n"))  # what a broken exporter writes
        try:
            events, _problems = parse_customers(read_csv(path), datetime.now(UTC), "DE")
        except (ConfigError, BadFile):
            return []  # refused with a one-line reason
        if events:
            await publish_all(self.settings, events)
        return [str(e.event_id) for e in events]

    async def agent_api(self, n: int, value: Any) -> list[str]:
        target = self.targets.pop()
        requests = [
            ("/api/complaints", {"subject": "Parcel lost", "email": value} if isinstance(value, Address)
             else {"subject": value, "customer_ref": f"K-API-{n}"}),
            ("/api/complaints", {"subject": "Parcel lost", "customer_id": value, "team": value, "segment": value}),
            (f"/api/complaints/{target.complaint_id}/respond", {"note": value}),
            (f"/api/callbacks/{target.callback_id}/close", {"note": value}),
            (f"/api/customers/{target.into}/merge", {"customer_id": target.other, "reason": value}),
            (f"/api/customers/{target.into}/link", {"kind": "order_ref", "value": value, "reason": value}),
        ]
        ids = []
        for path, body in requests:
            response = await self.api.post(path, content=json.dumps(body).encode(),
                                           headers={**AGENT, "content-type": "application/json"})
            assert response.status_code < 500, f"{path}: {response.status_code} {response.text[:300]}"
            if response.status_code < 300:
                ids.append(response.json()["event_id"])
            elif value == NORMAL:
                pytest.fail(f"{path} refused a normal request: {response.status_code} {response.text[:300]}")
        return ids

    async def prepare_agent_targets(self, count: int, publisher: KafkaPublisher, consumers: Consumers) -> None:
        """Complaints, missed calls and customer records for the agent API to act on, applied by
        the consumers (a missed call's callback opens once its grace time passed)."""
        lines = ["customer_ref,name"] + [f"K-AGENT-{i}-{side},Agent Target {i} {side}" for i in range(count)
                                         for side in ("a", "b")]
        customers, problems = parse_customers("\n".join(lines), datetime.now(UTC))
        assert not problems
        await publisher.publish([*customers, *(missed(f"AGENT{i}", datetime.now(UTC), f"+4930777{i:04d}")
                                               for i in range(count))])
        complaints = []
        for i in range(count):
            opened = await self.api.post("/api/complaints", json={"subject": "Parcel broken", "customer_ref": f"K-AGENT-{i}-a"},
                                         headers=AGENT)
            assert opened.status_code == 201, opened.text
            complaints.append(opened.json()["complaint"]["complaint_id"])
        await consumers.catch_up()
        self.targets = [AgentTarget(complaints[i], callback_id_for("cti", f"AGENT{i}"),
                                    str(customer_id_for(f"K-AGENT-{i}-a")), str(customer_id_for(f"K-AGENT-{i}-b")))
                        for i in range(count)]


Deliver = Callable[[Capture, int, Any], Awaitable[list[str]]]
TEXT_CHANNELS_TAKE = {"nul", "RTL override"}  # a channel may clean or refuse a value; these it must take, cleaned
# channel: how a value is delivered, the values it gets, the values it must accept
CHANNELS: dict[str, tuple[Deliver, dict[str, Any], set[str]]] = {
    "cti": (Capture.cti, HOSTILE, TEXT_CHANNELS_TAKE),
    "twilio": (Capture.twilio, HOSTILE, TEXT_CHANNELS_TAKE),
    "aftership": (Capture.aftership, HOSTILE | JSON_ONLY, TEXT_CHANNELS_TAKE),
    "generic shipping": (Capture.generic, HOSTILE | JSON_ONLY, TEXT_CHANNELS_TAKE),
    "web form": (Capture.form, HOSTILE | JSON_ONLY | ADDRESSES, TEXT_CHANNELS_TAKE),
    "imap": (Capture.imap_mail, HOSTILE | ADDRESSES, set(HOSTILE | ADDRESSES)),  # mail is never refused
    "csv import": (Capture.csv_import, HOSTILE | ADDRESSES, TEXT_CHANNELS_TAKE),
    # free text is cleaned; an identifier with NUL or a lone surrogate is a 422 (cleaned, it could name somebody else)
    "agent api": (Capture.agent_api, HOSTILE | JSON_ONLY | ADDRESSES, TEXT_CHANNELS_TAKE | {"other C0 controls"}),
}


async def test_hostile_values_on_every_channel_end_in_the_views_or_in_dead_letters(
    kafka_settings, postgres_url, imap_account, tmp_path
):
    settings = configured(kafka_settings, postgres_url)
    await upgrade_async(postgres_url)
    engine = make_engine(postgres_url)
    publisher = KafkaPublisher(settings.bootstrap_servers, settings.topic_prefix)
    consumers = Consumers(settings, engine, callback_rules(settings))
    box = Mailbox(name="hostile", host=imap_account.host, port=imap_account.port, security="plain",
                  username=imap_account.username, password=imap_account.password)
    connection = ImapConnection(box)
    accepted: dict[tuple[str, str], list[str]] = {}
    later: list[str] = []
    try:
        await publisher.start()
        await connection.open()
        authorizer = Authorizer(settings)
        agent = api_app(settings, engine=engine, publisher=publisher, routers=[
            complaints_router(settings, engine, publisher, authorizer, wait_seconds=0),
            callbacks_router(authorizer, callback_rules(settings), settings.default_region)])
        mail_sink = RecordingSink(publisher)
        sync = FolderSync("hostile", "INBOX", "incoming", mail_sink, SqlCheckpointStore(engine),
                          BlobStore(tmp_path / "blobs"), settings.topic_prefix, lambda: datetime.now(UTC))
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=ingest_app(settings, publisher)),
                              base_url="http://ingest") as ingest,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=agent), base_url="http://api") as api,
        ):
            capture = Capture(settings, ingest, api, sync, mail_sink, connection,
                              lambda raw_mail: imap_account.append("INBOX", raw_mail), tmp_path)
            await capture.prepare_agent_targets(len(CHANNELS["agent api"][1]) + 1, publisher, consumers)
            n = 0
            for channel, (deliver, values, _must_take) in CHANNELS.items():
                for name, value in values.items():
                    n += 1
                    if ids := await deliver(capture, n, value):
                        accepted[(channel, name)] = ids
                n += 1
                normal = await deliver(capture, n, NORMAL)
                assert normal, f"{channel}: the normal value was not accepted"
                later += normal
    finally:
        await connection.close()
        await publisher.stop()
    try:
        for channel, (_deliver, _values, must_take) in CHANNELS.items():
            taken = {name for (c, name) in accepted if c == channel}
            assert must_take <= taken, (channel, sorted(must_take - taken))
        await consumers.assert_applied_or_dead_lettered([i for ids in accepted.values() for i in ids], later)
    finally:
        await engine.dispose()
