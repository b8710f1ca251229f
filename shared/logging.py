"""Structured JSON logs, one object per line, with the service name and the correlation id of
the request or event being handled (set with `correlation_scope`)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson

from shared.redaction import redact

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
# the client of the HTTP request being handled (behind trusted proxies: the real one)
client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_address", default=None)


@contextlib.contextmanager
def correlation_scope(value: str | None) -> Iterator[None]:
    token = correlation_id.set(value)
    try:
        yield
    finally:
        correlation_id.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        client = client_address.get()
        if client:
            entry["client"] = client
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return redact(orjson.dumps(entry, default=str).decode())


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "faust", "mode", "uvicorn.access", "httpx", "mail.log"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
