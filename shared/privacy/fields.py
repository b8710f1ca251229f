"""The personal-data fields of each event type (`x-pii`), as paths into the event's JSON, with
what each becomes once its key is gone: None where the field is optional, an empty list or
mapping for collections, and `ERASED` for required text."""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel

from events.pii import is_pii

ERASED = "[erased]"


@dataclass(frozen=True)
class PiiField:
    path: tuple[str, ...]
    erased: Any


@functools.cache
def pii_fields(model: type[BaseModel]) -> tuple[PiiField, ...]:
    found: list[PiiField] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if is_pii(info) or _marked(annotation):
            found.append(PiiField((name,), _erased_value(annotation)))
            continue
        for nested in _models_in(annotation):
            found.extend(PiiField((name, *inner.path), inner.erased) for inner in pii_fields(nested))
    return tuple(found)


def _marked(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated:
        return any(is_pii(meta) for meta in typing.get_args(annotation)[1:])
    return any(_marked(arg) for arg in typing.get_args(annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _erased_value(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _erased_value(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return None if type(None) in args else _erased_value(args[0])
    if origin in (tuple, list, set, frozenset):
        return []
    if origin is dict or annotation is dict:
        return {}
    return ERASED
