"""Database engines for the read models: SQLite (a file under ./var/, the default) or
PostgreSQL (`postgresql+asyncpg://...`), both through SQLAlchemy 2's async API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def normalise_url(url: str) -> str:
    """Accepts the usual spellings and picks the async drivers."""
    parsed = make_url(url)
    driver = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, echo: bool = False, lock_up_front: bool = True) -> AsyncEngine:
    """`lock_up_front=False` (SQLite only): statements run on their own, reads never wait for a
    writer. For a helper that reads and writes single rows while the same process may hold a
    write transaction on its main engine (the privacy key store, called while sealing)."""
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, json_serializer=json_text,
                                     json_deserializer=json_value)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if lock_up_front:
            event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10,
                               json_serializer=json_text, json_deserializer=json_value)


def json_text(value: Any) -> str:
    """JSON columns as text: orjson, several times faster than the standard library on the
    rows a projector writes (entry details, candidates), with the standard library for what
    only it writes (integers beyond 64 bits, lone surrogates, which the database then refuses
    as before)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. NaN, which SQLite may hold and orjson does not read
        return json.loads(text)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # The driver's own lazy BEGIN is turned off so that _sqlite_begin_immediate decides.
    dbapi_connection.isolation_level = None
    # WAL lets the API read while the projector writes; NORMAL is durable across app crashes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def reading(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool for transactions that only read: on SQLite they begin deferred,
    so a page never waits for a projector's write (WAL gives the reader a snapshot). A write
    inside one may fail at once with "database is locked"; write through `engine` instead."""
    return engine.execution_options(sqlite_reads_only=True)


def _sqlite_begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" when another writer got in between; taking the write lock up front makes
    # concurrent writers wait for each other (busy_timeout) instead.
    if conn.get_execution_options().get("sqlite_reads_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
