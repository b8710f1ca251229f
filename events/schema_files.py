"""Committed JSON Schemas of the events: `events/schemas/<type>.v<N>.json`.

`python -m events.schema_files --write` regenerates the schema of every current version.
Schemas of older versions stay committed, as do their example payloads."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from events.envelope import Event
from events.registry import EVENT_CLASSES, current_version, type_name

SCHEMA_DIR = Path(__file__).parent / "schemas"
EXAMPLES_DIR = Path(__file__).parent / "examples"


def schema_path(event_type: str, version: int) -> Path:
    return SCHEMA_DIR / f"{event_type}.v{version}.json"


def generate(cls: type[Event]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="validation")
    schema["$id"] = f"urn:touchpoint:event:{type_name(cls)}:v{current_version(cls)}"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for cls in EVENT_CLASSES:
        path = schema_path(type_name(cls), current_version(cls))
        text = render(generate(cls))
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print("usage: python -m events.schema_files --write", file=sys.stderr)
        return 2
    for path in write_all():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
