"""What the pure projection may read: the current rows it needs, through a small port.

`MemoryView` holds rows in dicts. Unit tests fold events into one directly; the writer
fills one per batch with the rows the batch's events touch, so `apply` never does I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from services.projector.timeline.rows import CustomerRow, EntryRow, Identifier, IdentityRow


class View(Protocol):
    def customer(self, customer_id: str) -> CustomerRow | None: ...

    def identity(self, identifier: Identifier) -> IdentityRow | None: ...

    def entry(self, entry_id: str) -> EntryRow | None: ...

    def entries_with(self, identifier: Identifier) -> list[EntryRow]:
        """Every entry carrying this identifier, on whichever timeline it is."""

    def entries_of_complaint(self, complaint_id: str) -> list[EntryRow]: ...

    def mail_with_message_id(self, message_id: str, email: str) -> EntryRow | None:
        """The entry of a mail to or from `email` with this Message-ID (the oldest when several)."""

    def bounces_of(self, message_id: str, email: str) -> list[EntryRow]:
        """Bounce entries about `email` that report the mail with this Message-ID as failed."""

    def members(self, customer_id: str) -> list[str]:
        """The customers merged directly into this one."""

    def claimed_by(self, customer_id: str) -> list[IdentityRow]:
        """The identities this customer claims, alone or with others."""


MAIL_TYPES = ("email.received", "email.sent")

Change = CustomerRow | IdentityRow | EntryRow  # the new state of one row (an upsert)


def change_key(change: Change) -> tuple[str, ...]:
    if isinstance(change, CustomerRow):
        return ("customer", change.id)
    if isinstance(change, IdentityRow):
        return ("identity", change.kind, change.value)
    return ("entry", change.id)


@dataclass
class MemoryView:
    customers: dict[str, CustomerRow] = field(default_factory=dict)
    identities: dict[Identifier, IdentityRow] = field(default_factory=dict)
    entries: dict[str, EntryRow] = field(default_factory=dict)
    # entry ids by identifier and by complaint, kept in step with `entries`
    _carrying: dict[tuple[str, str], set[str]] = field(default_factory=dict, repr=False)

    def customer(self, customer_id: str) -> CustomerRow | None:
        return self.customers.get(customer_id)

    def identity(self, identifier: Identifier) -> IdentityRow | None:
        return self.identities.get(identifier)

    def entry(self, entry_id: str) -> EntryRow | None:
        return self.entries.get(entry_id)

    def entries_with(self, identifier: Identifier) -> list[EntryRow]:
        return [self.entries[i] for i in sorted(self._carrying.get(identifier, ()))]

    def entries_of_complaint(self, complaint_id: str) -> list[EntryRow]:
        return [self.entries[i] for i in sorted(self._carrying.get(("complaint", complaint_id), ()))]

    def mail_with_message_id(self, message_id: str, email: str) -> EntryRow | None:
        mails = [e for e in self.entries_with(("email", email))
                 if e.type in MAIL_TYPES and e.details.get("message_id") == message_id]
        return min(mails, key=lambda e: (e.occurred_at, e.id), default=None)

    def bounces_of(self, message_id: str, email: str) -> list[EntryRow]:
        return [e for e in self.entries_with(("email", email))
                if e.type == "email.received" and e.details.get("bounced_message_id") == message_id]

    def members(self, customer_id: str) -> list[str]:
        return sorted(c.id for c in self.customers.values() if c.merged_into == customer_id)

    def claimed_by(self, customer_id: str) -> list[IdentityRow]:
        return [row for key, row in sorted(self.identities.items()) if customer_id in row.claimants]

    def record(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if isinstance(change, CustomerRow):
                self.customers[change.id] = change
            elif isinstance(change, IdentityRow):
                self.identities[(change.kind, change.value)] = change
            else:
                before = self.entries.get(change.id)
                if before is not None:
                    for key in index_keys(before):
                        self._carrying[key].discard(change.id)
                self.entries[change.id] = change
                for key in index_keys(change):
                    self._carrying.setdefault(key, set()).add(change.id)

    def timeline(self, owner_id: str) -> list[EntryRow]:
        """Newest first, as the API shows it."""
        owned = [e for e in self.entries.values() if e.owner_id == owner_id]
        owned.sort(key=lambda e: e.id)
        owned.sort(key=lambda e: e.occurred_at, reverse=True)
        return owned


def index_keys(entry: EntryRow) -> list[tuple[str, str]]:
    keys = entry.identifiers()
    if entry.complaint_id:
        keys.append(("complaint", entry.complaint_id))
    return keys
