"""What the pure ingest parsers raise for input they cannot turn into events, and a reader
for provider fields that collects every problem instead of stopping at the first.

`InvalidPayload` carries every problem found, each naming the field, so that a provider or
a form author can fix them all at once. Routes answer it with 422."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


class InvalidPayload(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems or ["the payload is invalid"]
        super().__init__("; ".join(self.problems))

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> InvalidPayload:
        """Turns a pydantic error raised while building an event into field-named problems."""
        problems = []
        for error in exc.errors():
            path = ".".join(str(part) for part in error["loc"])
            problems.append(f"{prefix}{path}: {error['msg']}")
        return cls(problems)


class FieldReader:
    """Reads text fields from a form or JSON object, noting problems as it goes.

    A field may arrive once or repeated (`user[]=a&user[]=b`, or a JSON list); numbers and
    booleans from JSON become their text; an object where text is expected is a problem."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []

    def text(self, *names: str, required: bool = False) -> str | None:
        for name in names:
            if name in self.data:
                value = self.data[name]
                if value.__class__ is str:  # most fields: one plain string, no list to build
                    stripped = value.strip()
                    if stripped:
                        return stripped
                    continue
                found = self._texts(name, value)
                if found:
                    return found[0]
        if required:
            self.problems.append(f"{names[0]}: required")
        return None

    def texts(self, *names: str) -> list[str]:
        found: list[str] = []
        for name in names:
            if name in self.data:
                found += self._texts(name, self.data[name])
        return found

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def raise_if_any(self) -> None:
        if self.problems:
            raise InvalidPayload(list(dict.fromkeys(self.problems)))

    def _texts(self, name: str, value: Any) -> list[str]:
        items = value if isinstance(value, list) else [value]
        found = []
        for item in items:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            if not isinstance(item, str | int | float):
                self.problems.append(f"{name}: must be text, got {type(item).__name__}")
                continue
            text = str(item).strip()
            if text:
                found.append(text)
        return found
