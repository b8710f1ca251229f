"""The timeline read model's tables (SQLAlchemy Core). `timeline_tables(suffix)` builds the
same tables under other names: a rebuild fills `<name>__rebuild` tables and swaps them in.
Alembic revision 0003_timeline creates the live ones; keep the two in step."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

Json = JSON().with_variant(JSONB(), "postgresql")
IDENTIFIER_COLUMNS = ("email", "phone", "customer_ref", "order_ref", "tracking_number")


@dataclass(frozen=True)
class TimelineTables:
    metadata: MetaData
    customers: Table
    identities: Table
    entries: Table
    suffix: str
    versions: Table  # every state each entry had, by recorded time (revision 0010_asof_entry_versions)
    # the events these tables hold (revision 0015_timeline_applied_events): kept beside them, so a
    # rebuild swaps them in with the rest instead of rewriting a tracking row per event
    applied: Table

    def read_model(self) -> tuple[Table, ...]:
        """The rows readers see (without the tracking of applied events)."""
        return (self.customers, self.identities, self.entries, self.versions)

    def all(self) -> tuple[Table, ...]:
        return (*self.read_model(), self.applied)

    def indexes(self) -> list[Index]:
        return [index for table in self.all() for index in table.indexes]


def timeline_tables(suffix: str = "", with_indexes: bool = True) -> TimelineTables:
    metadata = MetaData()
    customers = Table(
        f"customers{suffix}",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("kind", String(16), nullable=False),  # customer | contact (unmatched)
        Column("name", Text),
        Column("customer_ref", String(255)),
        Column("emails", Json, nullable=False),
        Column("phones", Json, nullable=False),
        Column("order_refs", Json, nullable=False),
        Column("segment", String(64)),
        Column("language", String(16)),
        Column("attributes", Json, nullable=False),
        Column("updated_at", DateTime(timezone=True)),
        # revision 0010_merge_customers
        Column("merged_into", String(36)),
        Column("merged_at", DateTime(timezone=True)),
        Column("merged_by", String(200)),
    )
    identities = Table(
        f"identities{suffix}",
        metadata,
        Column("kind", String(32), primary_key=True),
        Column("value", String(320), primary_key=True),
        Column("claimants", Json, nullable=False),
        Column("customer_id", String(36)),  # the one claimant, when exactly one
        Column("ambiguous", Boolean, nullable=False),
        Column("hard_bounced_at", DateTime(timezone=True)),  # revision 0008_identity_hard_bounces
    )
    entries = Table(f"timeline_entries{suffix}", metadata, *entry_columns(), Column("complaint_id", String(255)))
    # the timeline as recorded up to any instant: each state of an entry from the recorded time
    # of the event that produced it (`version_at`) until that of the next one
    versions = Table(f"timeline_entry_versions{suffix}", metadata, *entry_columns(),
                     Column("complaint_id", String(255)), Column("version_at", DateTime(timezone=True), primary_key=True))
    applied = Table(f"timeline_applied_events{suffix}", metadata, Column("event_id", String(36), primary_key=True))
    if with_indexes:
        add_indexes(customers, identities, entries, suffix)
        add_version_indexes(versions, suffix)
    return TimelineTables(metadata, customers, identities, entries, suffix, versions, applied)


def entry_columns() -> list[Column]:  # type: ignore[type-arg]
    return [
        Column("id", String(36), primary_key=True),
        Column("entry_key", Text, nullable=False),
        Column("owner_id", String(36), nullable=False),
        Column("contact_id", String(36)),
        Column("event_id", String(36), nullable=False),
        Column("type", String(64), nullable=False),
        Column("channel", String(16), nullable=False),
        Column("direction", String(16)),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("summary", Text, nullable=False),
        Column("details", Json, nullable=False),
        Column("ambiguous", Boolean, nullable=False),
        Column("candidates", Json, nullable=False),
        *(Column(name, String(320)) for name in IDENTIFIER_COLUMNS),
    ]


def add_version_indexes(versions: Table, suffix: str) -> None:
    # as-of pages per timeline, newest first, like ix_timeline_owner_time; `version_at` in the key
    # lets the scan skip versions recorded after the instant without visiting the table
    Index(f"ix_timeline_versions_owner_time{suffix}", versions.c.owner_id, versions.c.occurred_at.desc(), versions.c.id,
          versions.c.version_at)
    # the complaints on a timeline as of an instant
    Index(f"ix_timeline_versions_complaint{suffix}", versions.c.owner_id, versions.c.complaint_id, versions.c.version_at,
          postgresql_where=versions.c.complaint_id.isnot(None), sqlite_where=versions.c.complaint_id.isnot(None))


def add_indexes(customers: Table, identities: Table, entries: Table, suffix: str) -> None:
    Index(f"ix_customers_ref{suffix}", customers.c.customer_ref)
    Index(f"ix_identities_customer{suffix}", identities.c.customer_id)
    # a merge moves what a record and the records merged into it claim, shared claims included
    Index(f"ix_customers_merged_into{suffix}", customers.c.merged_into, postgresql_where=customers.c.merged_into.isnot(None),
          sqlite_where=customers.c.merged_into.isnot(None))
    Index(f"ix_identities_ambiguous{suffix}", identities.c.kind, postgresql_where=identities.c.ambiguous,
          sqlite_where=identities.c.ambiguous)
    # newest-first pages per timeline: keyset on (occurred_at DESC, id)
    Index(f"ix_timeline_owner_time{suffix}", entries.c.owner_id, entries.c.occurred_at.desc(), entries.c.id)
    Index(f"ix_timeline_owner_channel_time{suffix}", entries.c.owner_id, entries.c.channel,
          entries.c.occurred_at.desc(), entries.c.id)
    # the agent UI's live feed reads what was recorded lately
    Index(f"ix_timeline_recorded{suffix}", entries.c.recorded_at)
    # entries carrying an identifier move when it is linked, unlinked or registered
    for name in (*IDENTIFIER_COLUMNS, "complaint_id"):
        column = entries.c[name]
        Index(f"ix_timeline_{name}{suffix}", column, postgresql_where=column.isnot(None), sqlite_where=column.isnot(None))


TIMELINE = timeline_tables()
