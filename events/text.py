"""Clean text at the edge: what every text field of an event may contain.

`clean(value, kind)` is the one function. It
- removes NUL and the other C0/C1 control characters; multi-line kinds (bodies, free fields)
  keep tab and newline, and CRLF or a lone CR becomes a newline; single-line kinds (addresses,
  names, subjects, identifiers) turn any line break or tab into a space, so a value can never
  break a mail header or a log line;
- removes lone surrogates (Python strings that are not valid Unicode; they cannot be encoded);
- removes bidirectional embedding, override and isolate controls (U+202A-U+202E,
  U+2066-U+2069) from single-line kinds, where they serve to disguise a name or a file
  extension; bodies keep them, since right-to-left writing may use them;
- cuts the value to the limit of its kind.

`Event` runs `clean_event_input` when an event is built (not when one is read back from the
log), so every producer gets it without calling it: the IMAP parser, the webhook adapters,
the customer import and the agent API. The event records what was cut (`truncated`) and where
bidi controls were removed (`bidi_removed`) as dotted field paths. Field encryption for
privacy belongs right after this, where the clean event becomes bytes (`events.codec.encode`).
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel

TextKind = Literal["address", "name", "subject", "line", "free", "body"]

LIMITS: Mapping[TextKind, int] = {
    "address": 320,  # RFC 5321: 64 + @ + 255
    "name": 200,
    "subject": 998,  # the RFC 5322 line limit
    "line": 998,  # identifiers, references, statuses: anything that is one line
    "free": 10_000,  # extra form fields, attributes, notes about the capture
    "body": 200_000,  # the IMAP parser keeps longer bodies whole in the blob store
}
MULTI_LINE: frozenset[TextKind] = frozenset({"free", "body"})

# The kind of a field, by its name wherever it occurs in an event; anything else is a `line`.
FIELD_KINDS: Mapping[str, TextKind] = {
    "email": "address", "emails": "address", "bounced_recipients": "address",
    "name": "name", "filename": "name", "answered_by": "name", "users": "name",
    "subject": "subject",
    "text": "body", "html": "body", "message": "body", "note": "body",
    "fields": "free", "attributes": "free", "reason": "free", "error": "free",
    "defects": "free", "classification_reasons": "free", "parse_error": "free", "location": "free",
}
KEY_KIND: TextKind = "name"  # keys of free-form mappings (form field names, attribute names)
RECORD_FIELDS = ("truncated", "bidi_removed")  # where the event notes what cleaning did

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_SURROGATES = "\ud800-\udfff"
_BIDI = "\u202a-\u202e\u2066-\u2069"
_MULTI_LINE_DIRT = re.compile(f"[{_CONTROLS}\r{_SURROGATES}]")
_SINGLE_LINE_DIRT = re.compile(f"[{_CONTROLS}\t\n\r{_SURROGATES}{_BIDI}]")
_REMOVED = re.compile(f"[{_CONTROLS}{_SURROGATES}]")
_BIDI_CONTROLS = re.compile(f"[{_BIDI}]")
_LINE_BREAKS = re.compile(r"[\t\n\r]+")


@dataclass(frozen=True)
class Cleaned:
    text: str
    truncated: bool = False
    bidi_removed: bool = False


def clean(value: str, kind: TextKind = "line") -> Cleaned:
    """The cleaned value and what had to be done to it (see the module docstring)."""
    multi_line = kind in MULTI_LINE
    limit = LIMITS[kind]
    if len(value) <= limit and not (_MULTI_LINE_DIRT if multi_line else _SINGLE_LINE_DIRT).search(value):
        return Cleaned(value)  # the common case: nothing to do
    bidi_removed = False
    if multi_line:
        text = _REMOVED.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    else:
        text = _REMOVED.sub("", _LINE_BREAKS.sub(" ", value))
        text, count = _BIDI_CONTROLS.subn("", text)
        bidi_removed = count > 0
    truncated = len(text) > limit
    return Cleaned(text[:limit] if truncated else text, truncated, bidi_removed)


def clean_text(value: str, kind: TextKind = "line") -> str:
    return clean(value, kind).text


# For request models and parameters outside events (e.g. the agent API's inputs).
CleanLine = Annotated[str, AfterValidator(clean_text)]
CleanBody = Annotated[str, AfterValidator(lambda value: clean_text(value, "body"))]


class _Report:
    def __init__(self) -> None:
        self.truncated: list[str] = []
        self.bidi_removed: list[str] = []

    def note(self, path: str, result: Cleaned) -> None:
        if result.truncated:
            self.truncated.append(path)
        if result.bidi_removed:
            self.bidi_removed.append(path)


_SAME: Any = object()  # "unchanged": lets the common case allocate nothing
_RULES = {kind: (LIMITS[kind], _MULTI_LINE_DIRT if kind in MULTI_LINE else _SINGLE_LINE_DIRT) for kind in LIMITS}


def clean_event_input(data: Any, model: type[BaseModel]) -> Any:
    """Construction input of `model` (a dict of fields whose values may be models, tuples,
    dicts) with every text cleaned; unchanged input is returned as it is. Nested models that
    changed become dicts, so that their validation runs again on the clean values."""
    if not isinstance(data, dict):
        return data
    report = _Report()
    changes = _clean_fields(data, model, "", report, skip=RECORD_FIELDS)
    if not changes:
        return data
    for field in RECORD_FIELDS:
        found = getattr(report, field)
        if found:
            changes[field] = tuple(dict.fromkeys((*data.get(field, ()), *found)))
    return {**data, **changes}


def _clean_fields(fields: dict[str, Any], model: type[BaseModel] | None, prefix: str, report: _Report,
                  skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The changed fields of one model's values (given as a dict)."""
    declared = _declared(model) if model is not None else {}
    changes = {}
    for name, value in fields.items():
        if value is None or value.__class__ in _PLAIN or name in skip:
            continue
        kind = FIELD_KINDS.get(name, "line")
        if value.__class__ is str:  # inlined fast path: most fields are short clean strings
            limit, dirt = _RULES[kind]
            if len(value) <= limit and not dirt.search(value):
                continue
        nested = _nested_model(model, name) if name in declared else None
        cleaned = _clean_value(value, f"{prefix}{name}", kind, report, nested)
        if cleaned is not _SAME:
            changes[name] = cleaned
    return changes


def _clean_value(value: Any, path: str, kind: TextKind, report: _Report, model: type[BaseModel] | None) -> Any:
    kind_of = type(value)
    if kind_of is str:
        limit, dirt = _RULES[kind]
        if len(value) <= limit and not dirt.search(value):
            return _SAME
        result = clean(value, kind)
        if result.text == value:
            return _SAME
        report.note(path, result)
        return result.text
    if value is None or kind_of in _PLAIN:
        return _SAME
    if isinstance(value, BaseModel):
        fields = value.__dict__  # a model's field values (its extras and private attributes live apart)
        changes = _clean_fields(fields, kind_of, f"{path}.", report)
        return {**fields, **changes} if changes else _SAME
    if isinstance(value, (tuple, list)):
        return _clean_sequence(value, path, kind, report, model) if value else _SAME
    if isinstance(value, dict):
        if model is not None:  # a nested model given as a dict
            changes = _clean_fields(value, model, f"{path}.", report)
            return {**value, **changes} if changes else _SAME
        return _clean_mapping(value, path, kind, report) if value else _SAME
    return _SAME


_PLAIN = frozenset({int, bool, float, UUID, datetime})
_KEY_LIMIT, _KEY_DIRT = _RULES[KEY_KIND]


@functools.cache  # pydantic's `model_fields` is a descriptor call on every access
def _declared(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_fields


@functools.cache  # a few dozen (model, field) pairs; the annotation walk is slow per event
def _nested_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    return _model_in(model.model_fields[name].annotation)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (alone, optional, or in a tuple), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _clean_sequence(items: tuple | list, path: str, kind: TextKind, report: _Report, model: type[BaseModel] | None) -> Any:
    limit, dirt = _RULES[kind]
    cleaned: list | None = None  # made on the first change only
    for index, item in enumerate(items):
        if item.__class__ is str and len(item) <= limit and not dirt.search(item):
            continue  # the common case, without naming its path
        new = _clean_value(item, f"{path}.{index}", kind, report, model)
        if new is not _SAME:
            if cleaned is None:
                cleaned = list(items)
            cleaned[index] = new
    return _SAME if cleaned is None else cleaned


def _clean_mapping(mapping: dict, path: str, kind: TextKind, report: _Report) -> Any:
    changed = False
    result = {}
    for key, value in mapping.items():
        new_key = key
        if isinstance(key, str) and (len(key) > _KEY_LIMIT or _KEY_DIRT.search(key)):
            cleaned_key = clean(key, KEY_KIND)
            if cleaned_key.text != key:
                report.note(f"{path}.{cleaned_key.text}", cleaned_key)
                new_key, changed = cleaned_key.text, True
        new_value = _clean_value(value, f"{path}.{new_key}", kind, report, None)
        if new_value is not _SAME:
            changed = True
        result[new_key] = value if new_value is _SAME else new_value
    return result if changed else _SAME
