"""Data keys in the database: one AES-256 key per subject and period, wrapped (AES-GCM) by the
master key. Ingest creates them when it seals; the projector, notifier and API read them to
open; erasure and retention delete them, which is what makes the data unreadable.

The codec works synchronously, the database asynchronously: `SyncKeyStore` runs the queries
on a loop of its own in a background thread, and caches keys so that only the first event of
a subject and period waits for the database. The first key looked up by id loads all keys at
once (up to `bulk_limit`), since a replay meets thousands of subjects. Cached keys live `ttl`
seconds, so a destroyed key stops being used everywhere within that time; processes that read
`customer.erased` drop them at once (`forget()`); a key id found missing stays missing (ids are
never reused)."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import make_engine
from shared.db.migrate import upgrade_async
from shared.privacy.master import MasterKey

DATA_KEY_BYTES = 32
NONCE_BYTES = 12

metadata = sa.MetaData()
privacy_keys = sa.Table(
    "privacy_keys", metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("period", sa.String(80), nullable=False),  # year, or year|retention class (0012r_retention)
    sa.Column("wrapped", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Keys of erased subjects still under a legal hold (GDPR Art. 18): kept, but they open nothing
# until retention shreds them (services/projector/privacy/restriction.py writes it).
restrictions = sa.Table(
    "privacy_restrictions", metadata,
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("period", sa.String(80), primary_key=True),
    sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    sa.Column("erasure_id", sa.String(64), nullable=False),
    sa.Column("customer_ref", sa.String(255)),
    sa.Column("restricted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("shredded_at", sa.DateTime(timezone=True)),
)


def openable() -> sa.ColumnElement[bool]:
    """Keys that may open data: those of no pending restriction."""
    return ~sa.exists().where(restrictions.c.subject == privacy_keys.c.subject,
                              restrictions.c.period == privacy_keys.c.period, restrictions.c.shredded_at.is_(None))


async def key_periods(engine: AsyncEngine) -> dict[str, int]:
    """How many keys each period has (what retention looks at; no subject in it)."""
    query = sa.select(privacy_keys.c.period, sa.func.count()).group_by(privacy_keys.c.period)
    async with engine.connect() as conn:
        return {row[0]: row[1] for row in await conn.execute(query)}


class WrongMasterKey(RuntimeError):
    """A data key does not unwrap: this process has another master key than the one that made
    it. A configuration error, never bad input (the events are fine), so it is not dead-lettered."""


class KeyStore(Protocol):
    def key_for(self, subject: str, period: str) -> tuple[str, bytes]:
        """The key id and data key of `subject` in `period`, made on first use."""

    def key_by_id(self, key_id: str) -> bytes | None:
        """The data key, or None when it was destroyed (or never existed, or is restricted)."""

    def forget(self, subjects: Iterable[str]) -> None:
        """Drops cached keys of these subjects (after they were destroyed elsewhere)."""


def wrap(master: MasterKey, key_id: str, subject: str, period: str, data_key: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(master.wrapping_key).encrypt(nonce, data_key, _aad(key_id, subject, period))


def unwrap(master: MasterKey, key_id: str, subject: str, period: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master.wrapping_key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                                   _aad(key_id, subject, period))
    except InvalidTag:
        raise WrongMasterKey(f"data key {key_id} does not open with this master key (wrong master_key_file?)") from None


def _aad(key_id: str, subject: str, period: str) -> bytes:
    return f"{key_id}|{subject}|{period}".encode()


class KeyTable:
    """The queries, on an async engine (also used directly by erasure and retention)."""

    def __init__(self, engine: AsyncEngine, master: MasterKey) -> None:
        self.engine = engine
        self.master = master

    async def key_for(self, subject: str, period: str) -> tuple[str, bytes]:
        found = await self._find(subject, period)
        if found is not None:
            return found
        key_id, data_key = secrets.token_hex(16), secrets.token_bytes(DATA_KEY_BYTES)
        row = dict(key_id=key_id, subject=subject, period=period, created_at=datetime.now(UTC),
                   wrapped=wrap(self.master, key_id, subject, period, data_key))
        try:
            async with self.engine.begin() as conn:
                await conn.execute(privacy_keys.insert().values(**row))
        except IntegrityError:  # another process made it first: use theirs
            found = await self._find(subject, period)
            if found is None:
                raise
            return found
        return key_id, data_key

    async def keys_for(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, bytes]]:
        """`key_for` of many subjects at once: one query for those that exist, one insert for the rest."""
        found = await self._find_many(pairs)
        missing = [pair for pair in dict.fromkeys(pairs) if pair not in found]
        if missing:
            now, made, rows = datetime.now(UTC), {}, []
            for subject, period in missing:
                key_id, data_key = secrets.token_hex(16), secrets.token_bytes(DATA_KEY_BYTES)
                made[(subject, period)] = (key_id, data_key)
                rows.append(dict(key_id=key_id, subject=subject, period=period, created_at=now,
                                 wrapped=wrap(self.master, key_id, subject, period, data_key)))
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(privacy_keys.insert(), rows)
                found.update(made)
            except IntegrityError:  # another process made some meanwhile: take each one's own
                for subject, period in missing:
                    found[(subject, period)] = await self.key_for(subject, period)
        return found

    async def _find_many(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, bytes]]:
        found: dict[tuple[str, str], tuple[str, bytes]] = {}
        unique = list(dict.fromkeys(pairs))
        async with self.engine.connect() as conn:
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                query = sa.select(privacy_keys).where(
                    sa.tuple_(privacy_keys.c.subject, privacy_keys.c.period).in_(chunk))
                for row in await conn.execute(query):
                    found[(row.subject, row.period)] = (
                        row.key_id, unwrap(self.master, row.key_id, row.subject, row.period, row.wrapped))
        return found

    async def _find(self, subject: str, period: str) -> tuple[str, bytes] | None:
        query = sa.select(privacy_keys.c.key_id, privacy_keys.c.wrapped).where(
            privacy_keys.c.subject == subject, privacy_keys.c.period == period)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return row.key_id, unwrap(self.master, row.key_id, subject, period, row.wrapped)

    async def key_by_id(self, key_id: str) -> bytes | None:
        query = sa.select(privacy_keys).where(privacy_keys.c.key_id == key_id, openable())
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return unwrap(self.master, row.key_id, row.subject, row.period, row.wrapped)

    async def destroy(self, subjects: Iterable[str], periods: Iterable[str] | None = None) -> int:
        """Deletes the keys of `subjects` (only of `periods` when given); returns how many."""
        condition = privacy_keys.c.subject.in_(list(subjects))
        if periods is not None:
            condition = condition & privacy_keys.c.period.in_(list(periods))
        async with self.engine.begin() as conn:
            result = await conn.execute(privacy_keys.delete().where(condition))
        return result.rowcount or 0

    async def destroy_keys(self, keys: Iterable[tuple[str, str]]) -> int:
        """Deletes the keys of these (subject, period) pairs; returns how many."""
        pairs = list(dict.fromkeys(keys))
        destroyed = 0
        async with self.engine.begin() as conn:
            for start in range(0, len(pairs), 500):
                result = await conn.execute(privacy_keys.delete().where(
                    sa.tuple_(privacy_keys.c.subject, privacy_keys.c.period).in_(pairs[start:start + 500])))
                destroyed += result.rowcount or 0
        return destroyed

    async def periods_of(self, subjects: Iterable[str]) -> list[tuple[str, str]]:
        """The (subject, period) of every key these subjects have."""
        query = sa.select(privacy_keys.c.subject, privacy_keys.c.period).where(
            privacy_keys.c.subject.in_(list(subjects)))
        async with self.engine.connect() as conn:
            return [(row.subject, row.period) for row in await conn.execute(query)]

    async def destroy_period(self, period: str) -> list[str]:
        """Deletes every subject's key of `period`; returns the subjects that had one."""
        async with self.engine.begin() as conn:
            subjects = [row.subject for row in await conn.execute(
                sa.select(privacy_keys.c.subject).where(privacy_keys.c.period == period))]
            await conn.execute(privacy_keys.delete().where(privacy_keys.c.period == period))
        return subjects

    async def all_keys(self, limit: int) -> list[tuple[str, str, str, bytes]] | None:
        """Every key (id, subject, period, data key), or None when there are more than `limit`."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(privacy_keys).where(openable()).limit(limit + 1))).all()
        if len(rows) > limit:
            return None
        return [(r.key_id, r.subject, r.period, unwrap(self.master, r.key_id, r.subject, r.period, r.wrapped))
                for r in rows]

    async def subjects_with_keys(self, subjects: Iterable[str]) -> list[str]:
        query = sa.select(privacy_keys.c.subject).where(privacy_keys.c.subject.in_(list(subjects))).distinct()
        async with self.engine.connect() as conn:
            return [row.subject for row in await conn.execute(query)]


async def _ensure_key_table(engine: AsyncEngine, url: str) -> None:
    """A command run before any service on a new database (an import, a demo) seals events too;
    the services migrate at start, so only such a command runs the migrations here."""
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda sync: sa.inspect(sync).has_table(privacy_keys.name))
    if not found:
        await upgrade_async(url)


@dataclass
class _Cached:
    key_id: str
    key: bytes
    subject: str
    expires: float


class SyncKeyStore:
    """`KeyStore` over a database URL, for the codec (see the module docstring)."""

    def __init__(self, url: str, master: MasterKey, ttl: float = 60.0, seal_ttl: float = 300.0,
                 bulk_limit: int = 200_000) -> None:
        self.master = master
        self.ttl = ttl  # keys for opening: how long a key destroyed elsewhere may still open data here
        self.seal_ttl = seal_ttl  # keys for sealing: data sealed with a destroyed key is merely lost
        self._by_subject: dict[tuple[str, str], _Cached] = {}
        self._by_id: dict[str, _Cached] = {}
        self._missing: set[str] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="privacy-keys", daemon=True)
        self._thread.start()
        self._url = url
        self._table: KeyTable | None = None
        self.bulk_limit = bulk_limit
        self.query_timeout = 60.0  # a database that does not answer fails the caller instead of hanging it
        self._bulk_until = 0.0  # while the last load of all keys is fresh, a key not found is missing

    def _run(self, coro_factory):  # type: ignore[no-untyped-def]
        async def call():  # type: ignore[no-untyped-def]
            if self._table is None:
                # on SQLite every transaction of the main engine takes the write lock first; keys
                # are looked up while the same process may hold it (sealing an event it derives)
                engine = make_engine(self._url, lock_up_front=False)
                await _ensure_key_table(engine, self._url)
                self._table = KeyTable(engine, self.master)
            return await coro_factory(self._table)

        if not self._loop.is_running():
            raise RuntimeError("the key store is closed")
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=self.query_timeout)

    def key_for(self, subject: str, period: str) -> tuple[str, bytes]:
        now = time.monotonic()
        cached = self._by_subject.get((subject, period))
        if cached is not None and cached.expires > now:
            return cached.key_id, cached.key
        key_id, key = self._run(lambda table: table.key_for(subject, period))
        self._remember(_Cached(key_id, key, subject, now + self.seal_ttl), period)
        return key_id, key

    def prepare(self, pairs: list[tuple[str, str]]) -> None:
        """Fetches (or makes) the keys of many subjects in one round trip, before sealing them."""
        now = time.monotonic()
        wanted = [pair for pair in dict.fromkeys(pairs) if not self.cached(*pair)]
        if not wanted:
            return
        found = self._run(lambda table: table.keys_for(wanted))
        for (subject, period), (key_id, key) in found.items():
            self._remember(_Cached(key_id, key, subject, now + self.seal_ttl), period)

    def cached(self, subject: str, period: str) -> bool:
        entry = self._by_subject.get((subject, period))
        return entry is not None and entry.expires > time.monotonic()

    def key_by_id(self, key_id: str) -> bytes | None:
        now = time.monotonic()
        cached = self._by_id.get(key_id)
        if cached is not None and cached.expires > now:
            return cached.key
        if key_id in self._missing:
            return None
        if self._bulk_until <= now and self._load_all(now):
            cached = self._by_id.get(key_id)
            if cached is not None:
                return cached.key
        key = self._run(lambda table: table.key_by_id(key_id))
        if key is None:
            with self._lock:
                self._missing.add(key_id)
            return None
        with self._lock:
            self._by_id[key_id] = _Cached(key_id, key, "", now + self.ttl)
        return key

    def _load_all(self, now: float) -> bool:
        """A replay meets thousands of subjects: one query for all keys instead of one per subject."""
        found = self._run(lambda table: table.all_keys(self.bulk_limit))
        if found is None:
            return False
        with self._lock:
            for key_id, subject, period, key in found:
                self._by_id[key_id] = _Cached(key_id, key, subject, now + self.ttl)
            self._bulk_until = now + self.ttl
        return True

    def _remember(self, entry: _Cached, period: str) -> None:
        with self._lock:
            self._by_subject[(entry.subject, period)] = entry
            self._by_id[entry.key_id] = entry

    def forget(self, subjects: Iterable[str]) -> None:
        gone = set(subjects)
        with self._lock:
            for slot in [slot for slot, entry in self._by_subject.items() if entry.subject in gone]:
                self._by_id.pop(self._by_subject.pop(slot).key_id, None)
            # keys read one by one do not record their subject: drop them too, they come back on use
            self._by_id = {key_id: entry for key_id, entry in self._by_id.items()
                           if entry.subject and entry.subject not in gone}

    def close(self) -> None:
        async def dispose() -> None:
            if self._table is not None:
                await self._table.engine.dispose()

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(dispose(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


@dataclass
class InMemoryKeyStore:
    """For unit tests: keys in a dict; `destroy` stands for erasure."""

    keys: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # key_id -> subject, period, key

    def key_for(self, subject: str, period: str) -> tuple[str, bytes]:
        for key_id, (s, p, key) in self.keys.items():
            if (s, p) == (subject, period):
                return key_id, key
        key_id, key = secrets.token_hex(16), secrets.token_bytes(DATA_KEY_BYTES)
        self.keys[key_id] = (subject, period, key)
        return key_id, key

    def key_by_id(self, key_id: str) -> bytes | None:
        found = self.keys.get(key_id)
        return found[2] if found else None

    def forget(self, subjects: Iterable[str]) -> None:
        return None

    def destroy(self, subjects: Iterable[str]) -> int:
        gone = set(subjects)
        doomed = [key_id for key_id, (subject, _, _) in self.keys.items() if subject in gone]
        for key_id in doomed:
            del self.keys[key_id]
        return len(doomed)
