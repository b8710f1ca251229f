"""Insert-or-replace by primary key, for PostgreSQL and SQLite alike."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


@lru_cache(maxsize=64)
def upsert_statement(table: Table, dialect_name: str) -> Any:
    """`INSERT … ON CONFLICT (primary key) DO UPDATE` of every other column, run with a list of
    rows. Built once per table: building `excluded` copies every column, which cost more than
    the rows themselves when done for each batch."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    keys = [c.name for c in table.primary_key.columns]
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    )
