"""The two kinds of failure, and the one place that tells them apart.

Transient: retrying later can succeed (broker or database unreachable, a serialisation
failure or deadlock, the database shutting down). A consumer retries these with backoff and
never skips the event. Permanent: this input will fail the same way every time (it cannot be
decoded or applied, or the database refuses its values: invalid byte sequence, value too long,
check or foreign-key violation, numeric out of range). A consumer dead-letters the event and
moves on, so one poison event never stalls a view."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass

from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, StatementError

from events.codec import InvalidEvent

__all__ = ["Failure", "InvalidEvent", "KafkaUnavailable", "TransientError", "classify", "is_transient"]


class TransientError(RuntimeError):
    """Retrying later can succeed (broker down, database locked, SMTP busy)."""


class KafkaUnavailable(TransientError):
    """Kafka did not acknowledge in time; nothing may be reported as stored."""


# SQLSTATE classes (PostgreSQL appendix A) refusing the data itself: retrying cannot help.
PERMANENT_SQLSTATE_CLASSES = {
    "22": "data exception",  # 22021 invalid byte sequence, 22001 too long, 22003 out of range, 22P05
    "23": "integrity constraint violation",  # 23503 foreign key, 23514 check, 23502 not null
    "54": "program limit exceeded",  # e.g. an index row larger than a btree page
}


@dataclass(frozen=True)
class Failure:
    transient: bool
    reason: str


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, whichever driver raised it."""
    for candidate in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def classify(exc: BaseException) -> Failure:
    """Transient or permanent, with a reason fit for a log line and a dead letter."""
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, InvalidEvent):
        return Failure(False, f"cannot be decoded: {exc}"[:2000])
    if isinstance(exc, (TransientError, KafkaError, OSError, asyncio.TimeoutError, ConnectionError)):
        return Failure(True, reason)
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return Failure(True, reason)
        code = sqlstate_of(exc)
        if code is not None:
            if code == "23505":
                # a unique key taken meanwhile: another worker applied the same event first;
                # trying again finds it applied and skips it
                return Failure(True, reason)
            kind = PERMANENT_SQLSTATE_CLASSES.get(code[:2])
            if kind is not None:
                return Failure(False, f"refused by the database ({code} {kind}): {exc.orig}"[:2000])
            return Failure(True, reason)  # 08 connection, 40 serialisation/deadlock, 53 resources, 57 shutdown...
        cause = getattr(exc.orig, "__cause__", None)
        if isinstance(cause, ValueError) or isinstance(exc.orig, ValueError):
            # the driver could not encode a value (asyncpg's DataError: a lone surrogate, a bad type)
            return Failure(False, f"cannot be stored: {cause or exc.orig}"[:2000])
        if isinstance(exc.orig, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError)):
            return Failure(False, f"refused by the database: {exc.orig}"[:2000])
        if isinstance(exc.orig, sqlite3.OperationalError) and "too big" in str(exc.orig).lower():
            return Failure(False, f"refused by the database: {exc.orig}"[:2000])
        return Failure(True, reason)
    if isinstance(exc, StatementError):
        # SQLAlchemy could not even bind the values (e.g. a type processor refused them)
        return Failure(False, f"cannot be stored: {reason}"[:2000])
    # anything else raised while applying the event (a lone surrogate the driver cannot encode,
    # a value the projection does not expect, nesting too deep): this event cannot be applied
    return Failure(False, f"cannot be applied: {reason}"[:2000])


def is_transient(exc: BaseException) -> bool:
    return classify(exc).transient
