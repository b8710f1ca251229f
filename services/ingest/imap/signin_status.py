"""Whether each mailbox could sign in last time, and the server's or provider's words when it
could not: written by the IMAP pollers, shown per mailbox on `/ops` (`mailbox_statuses`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.imap.checkpoints import checkpoints, metadata

signins = sa.Table(
    "imap_signin", metadata,
    sa.Column("mailbox", sa.String(128), primary_key=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

DETAIL_MAX = 1000


class SignInReport(Protocol):
    async def signed_in(self, mailbox: str) -> None: ...

    async def refused(self, mailbox: str, reason: str) -> None:
        """`reason` names no token or secret (SignInError messages never do)."""


@dataclass
class InMemorySignInReport:
    outcomes: dict[str, tuple[bool, str]] = field(default_factory=dict)

    async def signed_in(self, mailbox: str) -> None:
        self.outcomes[mailbox] = (True, "")

    async def refused(self, mailbox: str, reason: str) -> None:
        self.outcomes[mailbox] = (False, reason)


class SqlSignInReport:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def signed_in(self, mailbox: str) -> None:
        await self._store(mailbox, True, "")

    async def refused(self, mailbox: str, reason: str) -> None:
        await self._store(mailbox, False, reason[:DETAIL_MAX])

    async def _store(self, mailbox: str, ok: bool, detail: str) -> None:
        values = {"ok": ok, "detail": detail, "at": datetime.now(UTC)}
        upsert = self._insert(signins).values(mailbox=mailbox, **values)
        async with self.engine.begin() as conn:
            await conn.execute(upsert.on_conflict_do_update(index_elements=["mailbox"], set_=values))


async def mailbox_statuses(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Per mailbox folder: the last full sync, and the mailbox's last sign-in outcome."""
    c, s = checkpoints, signins
    query = (
        sa.select(c.c.mailbox, c.c.folder, c.c.last_synced_at, s.c.ok, s.c.detail, s.c.at)
        .select_from(c.outerjoin(s, s.c.mailbox == c.c.mailbox))
        .order_by(c.c.mailbox, c.c.folder)
    )
    never_synced = sa.select(s.c.mailbox, s.c.ok, s.c.detail, s.c.at).where(
        ~sa.exists().where(c.c.mailbox == s.c.mailbox)
    )
    async with engine.connect() as conn:
        rows = [_row(m, f, synced, ok, detail, at) for m, f, synced, ok, detail, at in await conn.execute(query)]
        rows += [_row(m, None, None, ok, detail, at) for m, ok, detail, at in await conn.execute(never_synced)]
    return sorted(rows, key=lambda row: (row["mailbox"], row["folder"] or ""))


def _row(mailbox: str, folder: str | None, synced: datetime | None, ok: bool | None, detail: str | None,
         at: datetime | None) -> dict[str, Any]:
    return {
        "mailbox": mailbox, "folder": folder, "last_synced_at": synced.isoformat() if synced else None,
        "signin_ok": ok, "signin_detail": detail or "", "signin_at": at.isoformat() if at else None,
    }
