"""Identity resolution: which timeline an interaction belongs on.

An interaction goes to the customer who alone claims the highest-priority identifier that
exactly one customer claims. Failing that it goes to the unmatched contact of its
highest-priority identifier; if some identifier is claimed by two or more customers the
entry is flagged `ambiguous` with the candidates, never given to one of them at random.
A customer merged into another counts as that one (`root`): an identifier claimed only by
records merged together belongs to the record they were merged into.
Resolution depends only on the entry's identifiers, the identities and the merges, never on
the order events arrived in, so a live projection and a rebuild agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.projector.timeline.rows import EntryRow, Identifier, IdentityRow, changed, contact_id_for
from services.projector.timeline.view import View


@dataclass(frozen=True)
class Resolution:
    owner_id: str
    contact_id: str
    ambiguous: bool = False
    candidates: tuple[str, ...] = ()


Resolutions = dict[tuple[Identifier, ...], "Resolution | None"]


def resolve(identifiers: list[Identifier], view: View) -> Resolution | None:
    """None when the interaction names no identifier at all."""
    if not identifiers:
        return None
    contact_id = contact_id_for(identifiers[0])
    owners = [sorted({root(view, c) for c in identity.claimants}) for identity in map(view.identity, identifiers) if identity]
    for claimed in owners:
        if len(claimed) == 1:
            return Resolution(claimed[0], contact_id)
    candidates = sorted({c for claimed in owners if len(claimed) > 1 for c in claimed})
    return Resolution(contact_id, contact_id, ambiguous=bool(candidates), candidates=tuple(candidates))


def root(view: View, customer_id: str) -> str:
    """The record a customer's history shows on: itself, or the end of its chain of merges.
    Merges that form a cycle (two records merged into each other at once) end at the smallest id."""
    path: list[str] = []
    current = customer_id
    while current not in path:
        path.append(current)
        row = view.customer(current)
        if row is None or row.merged_into is None:
            return current
        current = row.merged_into
    return min(path[path.index(current):])


def merged_group(view: View, customer_id: str) -> list[str]:
    """The customer and every record merged into it, directly or through others."""
    group, todo = [customer_id], [customer_id]
    while todo:
        for member in view.members(todo.pop()):
            if member not in group:
                group.append(member)
                todo.append(member)
    return group


def placed(entry: EntryRow, view: View, resolutions: Resolutions | None = None) -> EntryRow:
    """The entry on the timeline its identifiers resolve to now; the entry itself when that is
    where it already is. `resolutions` remembers what each set of identifiers resolves to, for
    placing many entries against a view that does not change meanwhile."""
    identifiers = entry.identifiers()
    if resolutions is None:
        resolution = resolve(identifiers, view)
    else:
        key = tuple(identifiers)
        if key not in resolutions:
            resolutions[key] = resolve(identifiers, view)
        resolution = resolutions[key]
    if resolution is None:
        return entry
    if (entry.owner_id, entry.contact_id, entry.ambiguous, entry.candidates) == (
            resolution.owner_id, resolution.contact_id, resolution.ambiguous, resolution.candidates):
        return entry  # placed where it was: most entries, when an identifier they carry moves
    return changed(
        entry,
        owner_id=resolution.owner_id,
        contact_id=resolution.contact_id,
        ambiguous=resolution.ambiguous,
        candidates=resolution.candidates,
    )


def hard_bounced(identity: IdentityRow | None, identifier: Identifier, at: datetime) -> IdentityRow:
    """The address marked as failing for good; the latest bounce counts, whatever the order."""
    row = identity or IdentityRow(identifier[0], identifier[1])
    latest = max(at, row.hard_bounced_at) if row.hard_bounced_at else at
    return changed(row, hard_bounced_at=latest)


def with_claim(identity: IdentityRow | None, identifier: Identifier, customer_id: str) -> IdentityRow:
    claimants = set(identity.claimants if identity else ()) | {customer_id}
    return IdentityRow(identifier[0], identifier[1], tuple(sorted(claimants)), identity.hard_bounced_at if identity else None)


def without_claim(identity: IdentityRow | None, identifier: Identifier, customer_id: str) -> IdentityRow:
    claimants = set(identity.claimants if identity else ()) - {customer_id}
    return IdentityRow(identifier[0], identifier[1], tuple(sorted(claimants)), identity.hard_bounced_at if identity else None)
