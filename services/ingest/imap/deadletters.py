"""Dead letters of the IMAP sync: a mail the parser could not turn into an event, kept with its
raw bytes, where it was (mailbox, folder, UIDVALIDITY, UID) and when it arrived.

With `[privacy] encrypt` the raw bytes are sealed (`shared/privacy/letters.py`) under the key of
the mail's customer address as the parser would take it (From for incoming, the first To for
outgoing mail), read cheaply from the raw headers, else under the `none` subject; the period is
the arrival year with the retention class of the mail's event type, so erasure and retention
make the letter unreadable as they do the mail's event. `replayed_mail` parses a letter again
(after the parser was fixed) into the event it should have been."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from events.email import EmailReceived, EmailSent
from services.ingest.imap.parse import Direction, parse_message
from shared.blobs import BlobSink
from shared.contacts import normalise_email
from shared.kafka.deadletter import DeadLetter
from shared.privacy.letters import seal_letter
from shared.privacy.runtime import active_sealer
from shared.privacy.subjects import NOBODY, contact_subject

SERVICE = "imap"
HEADER_BYTES = 64 * 1024  # headers beyond this are not looked at for the address
_SOURCE = re.compile(r"imap:(?P<mailbox>[^/]*)/(?P<folder>.*);uidvalidity=(?P<uidvalidity>\d+);uid=(?P<uid>\d+)"
                     r"(?:;direction=(?P<direction>incoming|outgoing))?(?:;received=(?P<received>[^;]+))?"
                     r"(?:;historic=(?P<historic>[01]))?")
_BLOB_POINTER = re.compile(rb"raw message stored as blob sha256:(?P<sha256>[0-9a-f]{64})(?: key:(?P<key>[A-Za-z0-9+/=]+))?")


@dataclass(frozen=True)
class MailPlace:
    mailbox: str
    folder: str
    uidvalidity: int
    uid: int
    direction: Direction
    received_at: datetime
    historic: bool

    def source(self) -> str:
        return (f"imap:{self.mailbox}/{self.folder};uidvalidity={self.uidvalidity};uid={self.uid};"
                f"direction={self.direction};received={self.received_at.isoformat()};historic={int(self.historic)}")

    @classmethod
    def of(cls, letter: DeadLetter) -> MailPlace | None:
        found = _SOURCE.fullmatch(letter.source or "")
        if found is None:
            return None
        received = found["received"]
        return cls(found["mailbox"], found["folder"], int(found["uidvalidity"]), int(found["uid"]),
                   found["direction"] or "incoming",  # type: ignore[arg-type]
                   datetime.fromisoformat(received) if received else (letter.first_seen or datetime.now(UTC)),
                   found["historic"] == "1")


def customer_address(raw: bytes, direction: Direction) -> str | None:
    """The normalised From (incoming) or first To (outgoing) address; None when there is none to read."""
    try:
        head = re.split(rb"\r?\n\r?\n", raw[:HEADER_BYTES], maxsplit=1)[0]
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        values = headers.get_all("From" if direction == "incoming" else "To") or []
        for _, address in getaddresses([str(value) for value in values]):
            if (normalised := normalise_email(address)) is not None:
                return normalised
    except Exception:  # a mail that broke the parser may break this too: then it is nobody's
        return None
    return None


def sealed(letter: DeadLetter, raw: bytes, place: MailPlace) -> DeadLetter:
    """The letter sealed when privacy is on (may wait for the key store: call it off the event loop)."""
    sealer = active_sealer()
    if sealer is None:
        return letter
    address = customer_address(raw, place.direction)
    subject = contact_subject(sealer.master, "email", address) if address else NOBODY
    event_type = "email.received" if place.direction == "incoming" else "email.sent"
    period = sealer.retention.period_of(event_type, place.received_at.astimezone(UTC).year)
    return seal_letter(sealer, letter, subject, period)


def blob_pointer(sha256: str, key: str | None) -> bytes:
    """What a letter holds instead of a raw mail too large for a Kafka record."""
    return f"raw message stored as blob sha256:{sha256}".encode() + (f" key:{key}".encode() if key else b"")


def replayed_mail(letter: DeadLetter, blobs: BlobSink, read_blob, now: datetime) -> EmailReceived | EmailSent:  # type: ignore[no-untyped-def]
    """The event an (opened) IMAP dead letter's mail becomes with today's parser. `read_blob(sha256,
    key)` reads a raw mail the letter points to. ValueError when the letter names no mail place."""
    place = MailPlace.of(letter)
    if place is None:
        raise ValueError(f"this IMAP dead letter does not say where its mail was ({(letter.source or '')[:120]!r})")
    raw = letter.original
    if (pointer := _BLOB_POINTER.fullmatch(raw)) is not None:
        raw = read_blob(pointer["sha256"].decode(), pointer["key"].decode() if pointer["key"] else None)
    return parse_message(raw, mailbox=place.mailbox, folder=place.folder, uid=place.uid, uidvalidity=place.uidvalidity,
                         direction=place.direction, received_at=place.received_at, blobs=blobs, recorded_at=now,
                         historic_before=place.received_at + timedelta(seconds=1) if place.historic else None)

