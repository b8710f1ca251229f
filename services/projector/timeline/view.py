"""What the pure projection may read: the current rows it needs, through a small port.

`MemoryView` holds rows in dicts. Unit tests fold events into one directly; the writer
fills one per batch with the rows the batch's events touch, so `apply` never does I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

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
    # indexes kept in step with the rows: a batch of a catch-up holds thousands of rows, and
    # scanning them for every event made a batch quadratic in its size
    _carrying: dict[tuple[str, str], set[str]] = field(default_factory=dict, repr=False)  # entry ids by key
    _claims: dict[str, set[Identifier]] = field(default_factory=dict, repr=False)  # by claimant
    _members: dict[str, set[str]] = field(default_factory=dict, repr=False)  # by the record merged into

    def customer(self, customer_id: str) -> CustomerRow | None:
        return self.customers.get(customer_id)

    def identity(self, identifier: Identifier) -> IdentityRow | None:
        return self.identities.get(identifier)

    def entry(self, entry_id: str) -> EntryRow | None:
        return self.entries.get(entry_id)

    def entries_with(self, identifier: Identifier) -> list[EntryRow]:
        return self._indexed(identifier)

    def entries_of_complaint(self, complaint_id: str) -> list[EntryRow]:
        return self._indexed(("complaint", complaint_id))

    def mail_with_message_id(self, message_id: str, email: str) -> EntryRow | None:
        mails = self._indexed(("mail", f"{email}\n{message_id}"))
        return min(mails, key=lambda e: (e.occurred_at, e.id), default=None)

    def bounces_of(self, message_id: str, email: str) -> list[EntryRow]:
        return self._indexed(("bounce", f"{email}\n{message_id}"))

    def members(self, customer_id: str) -> list[str]:
        return sorted(self._members.get(customer_id, ()))

    def claimed_by(self, customer_id: str) -> list[IdentityRow]:
        return [self.identities[key] for key in sorted(self._claims.get(customer_id, ()))]

    def _indexed(self, key: tuple[str, str]) -> list[EntryRow]:
        return [self.entries[i] for i in sorted(self._carrying.get(key, ()))]

    def record(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if isinstance(change, CustomerRow):
                self._reindex(self._members, self.customers.get(change.id), change, change.id,
                              lambda row: {row.merged_into} if row.merged_into else set())
                self.customers[change.id] = change
            elif isinstance(change, IdentityRow):
                key = (change.kind, change.value)
                self._reindex(self._claims, self.identities.get(key), change, key, lambda row: set(row.claimants))
                self.identities[key] = change
            else:
                self._reindex(self._carrying, self.entries.get(change.id), change, change.id, index_keys)
                self.entries[change.id] = change

    @staticmethod
    def _reindex(index: dict, before: Any, after: Any, item: Any, keys_of: Callable[[Any], Iterable]) -> None:
        if before is not None:
            for key in keys_of(before):
                index[key].discard(item)
        for key in keys_of(after):
            index.setdefault(key, set()).add(item)

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
    emails = [value for kind, value in keys if kind == "email"]
    message_id = entry.details.get("message_id")
    if entry.type in MAIL_TYPES and message_id:
        keys += [("mail", f"{email}\n{message_id}") for email in emails]
    bounced = entry.details.get("bounced_message_id")
    if entry.type == "email.received" and bounced:
        keys += [("bounce", f"{email}\n{bounced}") for email in emails]
    return keys
