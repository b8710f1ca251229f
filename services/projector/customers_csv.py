"""Customer master data from CSV, as `customer.registered` events (pure: text in, events and
problems out). Columns: customer_ref, name, email, phone (several values separated by `;`),
optionally order_ref(s), segment, language; any other column is kept as an attribute."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

import orjson

from events.customer import CustomerRegistered
from events.envelope import ContactIdentifiers
from events.ids import event_id_for
from events.text import clean_text
from shared.contacts import normalise_email, normalise_phone

REQUIRED = ("customer_ref", "name")
KNOWN = {"customer_ref", "name", "email", "emails", "phone", "phones", "order_ref", "order_refs", "segment", "language"}


@dataclass(frozen=True)
class RowProblem:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


class BadFile(ValueError):
    """The file as a whole cannot be read (missing columns, not CSV)."""


def values(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(";") if part.strip()]


def parse_customers(text: str, now: datetime, default_region: str | None = None, source: str = "import"
                    ) -> tuple[list[CustomerRegistered], list[RowProblem]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BadFile(f"the header must name the columns {list(REQUIRED)} (missing: {missing}); found {header}")
    reader.fieldnames = header
    events, problems = [], []
    line = 1
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return events, problems
        except csv.Error as exc:
            # e.g. a field over csv's size limit: the reader would go on mid-field, making rows of its rest
            raise BadFile(f"line {line + 1}: {exc}; nothing after it can be read reliably") from None
        start, line = line + 1, reader.line_num
        try:
            events.append(customer_event(row, now, default_region, source))
        except ValueError as exc:
            problems.append(RowProblem(start, str(exc)))


def customer_event(row: dict[str, str | None], now: datetime, region: str | None, source: str) -> CustomerRegistered:
    if None in row:
        raise ValueError("more fields than the header names (an unquoted comma?)")
    # cleaned before anything reads them (the event cleans again, per field kind): a cell of
    # control characters only counts as empty, and the content digest is that of clean text
    row = {key: None if value is None else clean_text(value, "free") for key, value in row.items()}
    ref = (row.get("customer_ref") or "").strip()
    name = (row.get("name") or "").strip()
    if not ref or not name:
        raise ValueError("customer_ref and name must not be empty")
    emails, phones = [], []
    for raw in values(row.get("email")) + values(row.get("emails")):
        email = normalise_email(raw)
        if email is None:
            raise ValueError(f"email {raw!r} is not an address")
        emails.append(email)
    for raw in values(row.get("phone")) + values(row.get("phones")):
        phone = normalise_phone(raw, region)
        if phone is None:
            hint = "" if region else " (write it with +country code or set TOUCHPOINT_DEFAULT_REGION)"
            raise ValueError(f"phone {raw!r} is not a phone number{hint}")
        phones.append(phone)
    payload = {
        "customer_ref": ref, "name": name, "emails": sorted(set(emails)), "phones": sorted(set(phones)),
        "order_refs": sorted(set(values(row.get("order_ref")) + values(row.get("order_refs")))),
        "segment": (row.get("segment") or "").strip() or None, "language": (row.get("language") or "").strip() or None,
        "attributes": {k: (v or "").strip() for k, v in sorted(row.items()) if k not in KNOWN and (v or "").strip()},
    }
    digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return CustomerRegistered(
        event_id=event_id_for("customer.registered", ref, digest), occurred_at=now, recorded_at=now,
        source=source, contact=ContactIdentifiers(customer_ref=ref), payload=payload,
    )
