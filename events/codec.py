"""The one place where events become bytes and bytes become events.

`decode` upcasts old payloads to the current version before validating, so consumers only
ever see current models; events written years ago stay readable as long as their upcasters
are kept (their example payloads are kept in `events/examples/` and decoded by the tests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from events.envelope import FROM_LOG, Event
from events.registry import CURRENT_VERSIONS, EVENT_ADAPTER, EVENT_TYPES

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (type, version it reads) -> function returning the dict at version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class InvalidEvent(ValueError):
    """Bytes that are not a valid event. Not retriable: goes to a dead letter topic."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Registers a function that lifts a `from_version` dict of `event_type` one version up."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"two upcasters for {event_type} v{from_version}")
        UPCASTERS[key] = fn
        return fn

    return register


class Protection(Protocol):
    """Encryption of personal data on the wire (shared/privacy): `seal` turns the JSON dict of a
    clean event into its sealed form, `open` the sealed dict back (what can no longer be
    opened comes back erased), `record_key` is the Kafka key without personal identifiers."""

    def seal(self, event: Event, data: dict[str, Any]) -> dict[str, Any]: ...

    def open(self, data: dict[str, Any]) -> dict[str, Any]: ...

    def record_key(self, event: Event) -> str: ...


class SealedWithoutKeys(RuntimeError):
    """A sealed event read by a process that has no key store: a configuration error, not bad
    input (the event is fine; this process cannot read it)."""


_protection: Protection | None = None


def use_protection(protection: Protection | None) -> Protection | None:
    """Makes `encode` seal and `decode` open personal data in this process from now on (None:
    plaintext again); returns the previous one. Callers of the codec do not change."""
    global _protection
    previous, _protection = _protection, protection
    return previous


def protection() -> Protection | None:
    return _protection


def encode(event: Event) -> bytes:
    data = event.model_dump(mode="json")
    if _protection is not None:
        data = _protection.seal(event, data)
    return orjson.dumps(data)


def record_key(event: Event) -> bytes:
    """The Kafka key of `event` (its partition key, with personal identifiers blinded when sealing)."""
    if _protection is not None:
        return _protection.record_key(event).encode()
    return event.partition_key().encode()


def decode(raw: bytes | str, upcasters: Mapping[tuple[str, int], Upcaster] | None = None) -> Event:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    return _decode(data, upcasters, owned=True)


def decode_dict(data: Any, upcasters: Mapping[tuple[str, int], Upcaster] | None = None) -> Event:
    return _decode(data, upcasters, owned=False)


def _decode(data: Any, upcasters: Mapping[tuple[str, int], Upcaster] | None, owned: bool) -> Event:
    if not isinstance(data, dict):
        raise InvalidEvent(f"an event is a JSON object, got {type(data).__name__}")
    if _protection is not None:
        # opening rewrites nested values in place: never in a dict the caller still holds
        data = _protection.open(data if owned or "sealed" not in data else orjson.loads(orjson.dumps(data)))
    elif "sealed" in data:
        raise SealedWithoutKeys("a sealed event was read without a key store; switch privacy on in this "
                                "process (TOUCHPOINT_PRIVACY_ENCRYPT / [privacy] encrypt)")
    data = upcast(data, UPCASTERS if upcasters is None else upcasters)
    try:
        return EVENT_ADAPTER.validate_python(data, context=FROM_LOG)
    except ValidationError as exc:
        raise InvalidEvent(describe_validation_error(exc, data.get("type"))) from None


def upcast(
    data: dict[str, Any],
    upcasters: Mapping[tuple[str, int], Upcaster],
    versions: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Lifts `data` to the current version of its type (`versions` overrides it, for tests)."""
    event_type = data.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise InvalidEvent(f"type: unknown event type {event_type!r}")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidEvent(f"schema_version: must be a positive integer, got {version!r}")
    target = versions[event_type] if versions else CURRENT_VERSIONS[event_type]
    if version > target:
        raise InvalidEvent(
            f"schema_version: {event_type} v{version} is newer than this build reads (v{target}); upgrade Touchpoint"
        )
    while version < target:
        step = upcasters.get((event_type, version))
        if step is None:
            raise InvalidEvent(f"schema_version: no upcaster from {event_type} v{version}")
        try:
            data = step(dict(data))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # an old payload missing what its upcaster reads is as invalid as a bad field
            raise InvalidEvent(f"{event_type} v{version} cannot be upcast: {type(exc).__name__}: {exc}") from None
        if data.get("schema_version") != version + 1:
            raise InvalidEvent(f"upcaster for {event_type} v{version} did not produce v{version + 1}")
        version += 1
    return data


def describe_validation_error(exc: ValidationError, event_type: Any) -> str:
    """One line naming every bad field, e.g. `payload.call_id: Field required`."""
    problems = []
    for error in exc.errors():
        # drop the union tag pydantic adds to the location for discriminated unions
        loc = [str(part) for part in error["loc"] if part != event_type]
        problems.append(f"{'.'.join(loc) or '(event)'}: {error['msg']}")
    return f"{event_type}: " + "; ".join(problems)
