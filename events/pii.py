"""Marks fields that hold personal data (names, addresses, phone numbers, subjects, bodies).

The marker lands in the JSON schema as `"x-pii": true`, and `pii_paths()` lists the marked
fields of an event class, so a privacy layer can encrypt or erase them per customer in the
codec without touching the adapters."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, Field

PII_KEY = "x-pii"

PiiStr = Annotated[str, Field(json_schema_extra={PII_KEY: True})]


def is_pii(field_info: Any) -> bool:
    extra = getattr(field_info, "json_schema_extra", None)
    if isinstance(extra, dict) and extra.get(PII_KEY):
        return True
    return any(is_pii(meta) for meta in getattr(field_info, "metadata", ()))


def pii_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of the PII fields of `model`, descending into nested models."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if is_pii(info) or _annotation_is_pii(info.annotation):
            paths.append(path)
        for nested in _nested_models(info.annotation):
            paths.extend(pii_paths(nested, prefix=f"{path}."))
    return paths


def _annotation_is_pii(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated:
        return any(is_pii(meta) for meta in typing.get_args(annotation)[1:])
    return any(_annotation_is_pii(arg) for arg in typing.get_args(annotation))


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            found.extend(_nested_models(arg))
    return found
