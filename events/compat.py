"""Backward compatibility between two JSON Schemas of one event version: can a reader built
from `new` still read everything that was written under `old`? Anything else needs a new
`schema_version` and an upcaster."""

from __future__ import annotations

import json
from typing import Any


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "")


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return defs.get(ref.removeprefix("#/$defs/"), {})
    return node


def _types(node: dict[str, Any]) -> set[str]:
    if "anyOf" in node:
        found: set[str] = set()
        for option in node["anyOf"]:
            found |= _types(option)
        return found
    if "const" in node:
        return {f"const:{json.dumps(node['const'])}"}
    if "enum" in node:
        return {f"const:{json.dumps(value)}" for value in node["enum"]}
    kind = node.get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind} if kind else {"any"}


def _compare(old: dict, new: dict, old_defs: dict, new_defs: dict, path: str) -> list[str]:
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    problems: list[str] = []
    old_types, new_types = _types(old), _types(new)
    if "any" not in new_types:
        # const values are only compatible with the same const or a plain type that holds them
        missing = {t for t in old_types - new_types if not _const_fits(t, new_types)}
        if missing:
            problems.append(f"{path.rstrip('.') or '(root)'}: no longer accepts {sorted(missing)}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_sub in old_props.items():
        if name not in new_props:
            if new.get("additionalProperties") is False:
                problems.append(f"{path}{name}: removed")
            continue
        problems += _compare(old_sub, new_props[name], old_defs, new_defs, f"{path}{name}.")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        problems.append(f"{path}{name}: now required")
    old_items, new_items = old.get("items"), new.get("items")
    if isinstance(old_items, dict) and isinstance(new_items, dict):
        problems += _compare(old_items, new_items, old_defs, new_defs, f"{path}[].")
    return problems


def _const_fits(old_type: str, new_types: set[str]) -> bool:
    if not old_type.startswith("const:"):
        return False
    value = json.loads(old_type.removeprefix("const:"))
    json_type = {str: "string", bool: "boolean", int: "integer", float: "number"}.get(type(value))
    return json_type in new_types or (json_type == "integer" and "number" in new_types)
