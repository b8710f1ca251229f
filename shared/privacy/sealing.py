"""The codec layer that seals personal data (see `events.codec.use_protection`).

On the wire a sealed event is the same JSON object with every non-null `x-pii` field replaced by
`AES-256-GCM(data key, JSON of the value)` (base64, nonce first; the event id and the field's
path are the associated data, so a value cannot be moved to another field or event), and one
more top-level member, `"sealed": {"key": "<key id>"}`, naming the data key. Opening reverses
it; when the key is gone, every sealed field becomes its erased value (`fields.py`)."""

from __future__ import annotations

import functools
import secrets
from base64 import b64decode, b64encode
from collections.abc import Callable
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.codec import InvalidEvent
from events.envelope import Event
from events.registry import EVENT_TYPES
from shared.privacy.fields import pii_fields
from shared.privacy.master import MasterKey
from shared.privacy.retention import RetentionRules
from shared.privacy.store import KeyStore
from shared.privacy.subjects import NO_RULES, period_of, record_key, subject_of

SEALED = "sealed"
ERASURE_TYPE = "customer.erased"
NONCE_BYTES = 12


class FieldSealer:
    """Seals and opens events' personal data with the keys of `store` (an `events.codec.Protection`)."""

    def __init__(self, master: MasterKey, store: KeyStore, retention: RetentionRules = NO_RULES) -> None:
        self.master = master
        self.store = store
        self.retention = retention  # the period of a key: year and retention class of the event
        self._ciphers: dict[str, AESGCM] = {}

    def seal(self, event: Event, data: dict[str, Any]) -> dict[str, Any]:
        fields = _fields_of(type(event))
        if not fields:
            return data
        key_id, key = self.store.key_for(subject_of(self.master, event), period_of(event, self.retention))
        encrypt = self._cipher(key_id, key).encrypt
        prefix = f"{event.event_id}|"

        def seal_value(path: str, value: Any) -> Any:
            nonce = secrets.token_bytes(NONCE_BYTES)
            return b64encode(nonce + encrypt(nonce, orjson.dumps(value), (prefix + path).encode())).decode()

        for path, dotted, _ in fields:
            _rewrite(data, path, seal_value, dotted)
        data[SEALED] = {"key": key_id}
        return data

    def open(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("type") == ERASURE_TYPE:
            # whoever reads an erasure stops using the destroyed keys at once, not after the cache ttl
            subjects = (data.get("payload") or {}).get("subjects") or []
            self.forget([s for s in subjects if isinstance(s, str)])
        header = data.pop(SEALED, None)
        if header is None:
            return data  # written before sealing was switched on
        if not isinstance(header, dict) or not isinstance(header.get("key"), str):
            raise InvalidEvent(f"{SEALED}: must be an object naming its key")
        model = EVENT_TYPES.get(data.get("type"))  # type: ignore[arg-type]
        if model is None:
            raise InvalidEvent(f"type: unknown event type {data.get('type')!r}")
        key_id = header["key"]
        key = self.store.key_by_id(key_id)
        fields = _fields_of(model)
        if key is None:
            return erase_fields(data, model)
        opener = self._opener(key_id, key, str(data.get("event_id")))
        for path, dotted, _ in fields:
            _rewrite(data, path, opener, dotted)
        return data

    def sealing_waits(self, events) -> bool:  # type: ignore[no-untyped-def]
        """True when sealing `events` would wait for the database (a key not cached here)."""
        cached = getattr(self.store, "cached", None)
        if cached is None:
            return False
        return any(pii_fields(type(e)) and not cached(subject_of(self.master, e), period_of(e, self.retention)) for e in events)

    def prepare(self, events) -> None:  # type: ignore[no-untyped-def]
        """Loads the keys these events will be sealed with, in one round trip where the store can."""
        prepare = getattr(self.store, "prepare", None)
        if prepare is not None:
            prepare([(subject_of(self.master, e), period_of(e, self.retention)) for e in events if pii_fields(type(e))])

    def forget(self, subjects: list[str]) -> None:
        """Drops cached keys (theirs and, since ciphers do not record subjects, all ciphers)."""
        self.store.forget(subjects)
        self._ciphers.clear()

    def record_key(self, event: Event) -> str:
        return record_key(self.master, event)

    def _opener(self, key_id: str, key: bytes, event_id: str) -> Callable[[str, Any], Any]:
        decrypt = self._cipher(key_id, key).decrypt
        prefix = f"{event_id}|"

        def open_value(path: str, value: Any) -> Any:
            if not isinstance(value, str):
                raise InvalidEvent(f"{path}: a sealed field must be a string")
            try:
                raw = b64decode(value)
                return orjson.loads(decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], (prefix + path).encode()))
            except (ValueError, InvalidTag):
                raise InvalidEvent(f"{path}: does not open with key {key_id} (altered or not sealed)") from None

        return open_value

    def _cipher(self, key_id: str, key: bytes) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            if len(self._ciphers) > 4096:
                self._ciphers.clear()
            cipher = self._ciphers[key_id] = AESGCM(key)
        return cipher


def erase_fields(data: dict[str, Any], model: type) -> dict[str, Any]:
    """`data` (an event's JSON, changed in place) with every personal field at its erased value:
    what opening it gives once its key is gone. Read models use it to redact what they keep."""
    for path, dotted, erased in _fields_of(model):
        _rewrite(data, path, lambda _path, _value, erased=erased: erased, dotted)
    return data


@functools.cache
def _fields_of(model: type) -> tuple[tuple[tuple[str, ...], str, Any], ...]:
    return tuple((field.path, ".".join(field.path), field.erased) for field in pii_fields(model))


def _rewrite(node: Any, path: tuple[str, ...], change: Callable[[str, Any], Any], dotted: str) -> None:
    """Replaces the non-null values at `path` (through lists of objects) by `change(dotted, value)`."""
    if len(path) == 2 and type(node) is dict:  # the common case: payload.x, contact.x
        inner = node.get(path[0])
        if type(inner) is dict:
            value = inner.get(path[1])
            if value is not None:
                inner[path[1]] = change(dotted, value)
            return
    if isinstance(node, list):
        for item in node:
            _rewrite(item, path, change, dotted)
        return
    if not isinstance(node, dict) or path[0] not in node:
        return
    if len(path) == 1:
        if node[path[0]] is not None:
            node[path[0]] = change(dotted, node[path[0]])
        return
    _rewrite(node[path[0]], path[1:], change, dotted)
