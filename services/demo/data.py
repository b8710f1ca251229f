"""Synthetic demo customers (no real person's data)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoCustomer:
    customer_ref: str
    name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    segment: str
    language: str
    order_refs: tuple[str, ...]


_PEOPLE = [
    ("Erika Muster", "de", "key_account"), ("Jonas Beispiel", "de", "standard"), ("Mia Probe", "de", "standard"),
    ("Lukas Testmann", "de", "standard"), ("Hanna Vorlage", "de", "key_account"), ("Paul Entwurf", "de", "standard"),
    ("Clara Muster", "de", "standard"), ("Felix Schablone", "de", "standard"), ("Alice Example", "en", "standard"),
    ("Bob Sample", "en", "key_account"), ("Carol Specimen", "en", "standard"), ("Dan Placeholder", "en", "standard"),
]

CALLBACK_CUSTOMER = 1  # Jonas Beispiel: called twice, reached nobody, waits for a callback


def demo_customers() -> list[DemoCustomer]:
    customers = []
    for index, (name, language, segment) in enumerate(_PEOPLE):
        local = name.lower().replace(" ", ".")
        domain = "example.org" if language == "de" else "example.com"
        phones = (f"+49151{5550100 + index:07d}",) + ((f"+4930{5550200 + index:07d}",) if index % 3 == 0 else ())
        customers.append(
            DemoCustomer(
                customer_ref=f"K-{10001 + index}",
                name=name,
                emails=(f"{local}@{domain}",),
                phones=phones,
                segment=segment,
                language=language,
                order_refs=(f"A-{2001 + index}",),
            )
        )
    # A merge candidate: the same person registered a second time, with another address and number.
    first = customers[1]
    customers.append(DemoCustomer(customer_ref=f"K-{10001 + len(_PEOPLE)}", name=first.name,
                                  emails=("j.beispiel@web.example.com",), phones=("+491605550113",),
                                  segment=first.segment, language=first.language, order_refs=(f"A-{2001 + len(_PEOPLE)}",)))
    return customers


def merge_candidate() -> tuple[DemoCustomer, DemoCustomer]:
    """The two demo records of one person: the first registration and the second."""
    customers = demo_customers()
    return customers[1], customers[-1]


def write_customers_csv(path: Path, customers: list[DemoCustomer]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_ref", "name", "email", "phone", "segment", "language", "order_ref"])
        for c in customers:
            writer.writerow([c.customer_ref, c.name, ";".join(c.emails), ";".join(c.phones), c.segment, c.language,
                             ";".join(c.order_refs)])
    return path
