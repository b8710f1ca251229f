"""The users who sign in with a password: adding them, changing passwords, disabling them,
and checking a name and password at login.

Passwords are kept as argon2id hashes (argon2-cffi). A successful login whose hash was made
under other parameters than the current `PasswordHasher`'s is hashed again, so raising the
parameters upgrades every active user at their next login. Hashing runs in a worker thread:
it is deliberately slow and must not stall the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.users import rules
from services.projector.users.rules import UserError
from services.projector.users.tables import users


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    extension: str | None
    epoch: int  # sessions issued under another epoch are over (password changed, disabled)


class UserStore:
    def __init__(self, engine: AsyncEngine, hasher: PasswordHasher | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine, self.hasher, self.now = engine, hasher or PasswordHasher(), now
        self._dummy: str | None = None

    async def add(self, name: str, role: str, extension: str | None, password: str) -> Account:
        name, role, extension = rules.user_name(name), rules.role(role), rules.extension(extension)
        digest = await asyncio.to_thread(self.hasher.hash, rules.password(name, password))
        now = self.now()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(users.insert().values(
                    name=name, role=role, extension=extension, password_hash=digest, disabled=False,
                    session_epoch=0, created_at=now, updated_at=now))
        except IntegrityError:
            raise UserError(f"user {name!r} exists already; change the password with 'touchpoint users passwd {name}'") from None
        return Account(name, role, extension, 0)

    async def set_password(self, name: str, password: str) -> None:
        """A new password; the user's existing sessions end."""
        name = rules.user_name(name)
        digest = await asyncio.to_thread(self.hasher.hash, rules.password(name, password))
        await self._change(name, password_hash=digest, session_epoch=users.c.session_epoch + 1)

    async def disable(self, name: str) -> None:
        """The user can no longer log in, and their existing sessions end."""
        await self._change(rules.user_name(name), disabled=True, session_epoch=users.c.session_epoch + 1)

    async def _change(self, name: str, **values: object) -> None:
        async with self.engine.begin() as conn:
            done = await conn.execute(update(users).where(users.c.name == name).values(updated_at=self.now(), **values))
        if done.rowcount == 0:
            raise UserError(f"no user named {name!r}; add one with 'touchpoint users add {name} --role agent'")

    async def check(self, name: str, password: str) -> Account | None:
        """The account when `name` and `password` match an enabled user, else None. Unknown
        names cost a hash check too, so timing does not tell which names exist."""
        try:
            name = rules.user_name(name)
        except UserError:
            name = ""
        row = await self._row(name) if name and len(password) <= rules.MAX_PASSWORD_LENGTH else None
        if row is None:
            await asyncio.to_thread(self._verify, await self._dummy_hash(), password)
            return None
        if not await asyncio.to_thread(self._verify, row.password_hash, password) or row.disabled:
            return None
        if self.hasher.check_needs_rehash(row.password_hash):
            await self._rehash(name, row.password_hash, password)
        return Account(row.name, row.role, row.extension, row.session_epoch)

    async def account(self, name: str, epoch: int) -> Account | None:
        """The account behind a session cookie, while it is enabled and the epoch is current."""
        row = await self._row(name)
        if row is None or row.disabled or row.session_epoch != epoch:
            return None
        return Account(row.name, row.role, row.extension, row.session_epoch)

    async def enabled(self, name: str) -> Account | None:
        """The account of an enabled user (signed in by someone else's proof, e.g. OpenID Connect)."""
        row = await self._row(name)
        return None if row is None or row.disabled else Account(row.name, row.role, row.extension, row.session_epoch)

    async def _row(self, name: str):  # type: ignore[no-untyped-def]
        async with self.engine.connect() as conn:
            return (await conn.execute(select(users).where(users.c.name == name))).first()

    async def _rehash(self, name: str, old_hash: str, password: str) -> None:
        digest = await asyncio.to_thread(self.hasher.hash, password)
        async with self.engine.begin() as conn:
            # only if nobody changed the password meanwhile
            await conn.execute(update(users).where(users.c.name == name, users.c.password_hash == old_hash)
                               .values(password_hash=digest))

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await asyncio.to_thread(self.hasher.hash, "not a password of anyone")
        return self._dummy

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self.hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False
