"""Hostile values for consumer-safety tests: each one turns a well-formed event's bytes into a
record that a consumer must either store or dead-letter, without stalling on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import json

import orjson

from events.codec import encode
from events.envelope import Event


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def mutate(event: Event, changes: dict[tuple[str, ...], Any], raw_replace: tuple[bytes, bytes] | None = None) -> bytes:
    data = orjson.loads(encode(event))
    for path, value in changes.items():
        _set(data, path, value)
    raw = json.dumps(data).encode()  # orjson refuses to write deeper than 254 levels
    if raw_replace is not None:
        raw = raw.replace(*raw_replace)
    return raw


LONG_ADDRESS = "a" * 400 + "@example.org"
# name -> how to spoil a web form event's bytes (contact email, subject and message are free text)
HOSTILE: dict[str, Callable[[Event], bytes]] = {
    "nul in the message": lambda e: mutate(e, {("payload", "message"): "crushed\x00box", ("payload", "subject"): "\x00"}),
    "nul in the address": lambda e: mutate(e, {("contact", "email"): "erika\x00@example.org",
                                               ("payload", "email"): "erika\x00@example.org"}),
    "other C0 controls": lambda e: mutate(e, {("payload", "message"): "\x01\x07\x08\x1b[31mred\x7f",
                                              ("payload", "subject"): "\x0b\x0c"}),
    "lone surrogate": lambda e: mutate(e, {("payload", "message"): "SURROGATE"},
                                       (b'"SURROGATE"', b'"broken \\ud800 pair"')),
    "over-long address": lambda e: mutate(e, {("contact", "email"): LONG_ADDRESS, ("payload", "email"): LONG_ADDRESS}),
    "over-long message": lambda e: mutate(e, {("payload", "message"): "x" * 200_000, ("payload", "subject"): "y" * 10_000}),
    "400-level nesting": lambda e: mutate(e, {("payload", "fields"): {"deep": nested(400)}}),
    "RTL override": lambda e: mutate(e, {("payload", "subject"): "\u202egpj.exe", ("payload", "name"): "\u202eakirE"}),
    "quoted-printable NUL left in the text": lambda e: mutate(e, {("payload", "message"): "line =00 end\x00"}),
}
