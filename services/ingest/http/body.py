"""Reading webhook request bodies safely: a size limit enforced while streaming, the media
types a route accepts, and decoding urlencoded forms and JSON objects into plain dicts.

Forms are decoded with the standard library straight from the bytes already read (the
signature checks need those bytes anyway) instead of Starlette's form parser, which costs
more per request than the rest of the route."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import unquote_plus

import orjson
from starlette.requests import Request

from shared.web import ApiError

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_FORM_FIELDS = 1000
# the deepest provider payload (AfterShip: msg.checkpoints[].coordinates[]) is 4 levels
MAX_JSON_DEPTH = 16


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) more than `limit` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_content_length", f"Content-Length must be a number of bytes, got {declared!r}")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media_type(request: Request, *allowed: str) -> str:
    kind = media_type(request)
    if kind not in allowed:
        got = f"got {kind!r}" if kind else "no Content-Type was sent"
        raise ApiError(415, "unsupported_media_type", f"send the body as {' or '.join(allowed)}; {got}")
    return kind


def form_pairs(body: bytes) -> list[tuple[str, str]]:
    """The urlencoded fields in order, repeated names kept (signatures need them as sent)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "malformed_body", "the form body is not UTF-8 text") from None
    if text.count("&") >= MAX_FORM_FIELDS:
        raise ApiError(422, "malformed_body", f"the form body has more than {MAX_FORM_FIELDS} fields")
    # what parse_qsl(keep_blank_values=True) gives, without its per-field overhead: most
    # names and values need no unquoting at all
    pairs = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in name or "+" in name:
            name = _unquoted(name)
        if "%" in value or "+" in value:
            value = _unquoted(value)
        pairs.append((name, value))
    return pairs


def _unquoted(text: str) -> str:
    return _recurring(text) if len(text) <= RECURRING_MAX_CHARS else unquote_plus(text)


# Field names (`user%5B%5D`) and many values (an agent's name, a queue) come again with every
# call event; the standard library's unquoting costs more than the rest of a field's handling
RECURRING_MAX_CHARS = 64
_recurring = functools.lru_cache(maxsize=4096)(unquote_plus)


def form_fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Pairs → dict; a repeated name (`user[]=a&user[]=b`) becomes a list under `user`."""
    fields: dict[str, Any] = {}
    for raw_name, value in pairs:
        name = raw_name[:-2] if raw_name.endswith("[]") else raw_name
        if name in fields:
            existing = fields[name]
            fields[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            fields[name] = [value] if raw_name.endswith("[]") else value
    return fields


def json_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, "malformed_body", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "malformed_body", f"the body must be a JSON object, got {type(data).__name__}")
    too_deep = path_deeper_than(data, MAX_JSON_DEPTH)
    if too_deep is not None:
        raise ApiError(422, "invalid_fields", f"{too_deep}: nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def path_deeper_than(data: Any, limit: int) -> str | None:
    """The path of the first value nested more than `limit` objects/arrays deep, else None.
    Iterative, so a hostile depth costs no Python stack."""
    pending: list[tuple[Any, str, int]] = [(data, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, dict):
            children = [(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(value)]
        else:
            continue
        if depth >= limit:
            return path.split(".", 1)[0].split("[", 1)[0] if path else "body"
        pending += [(child, child_path, depth + 1) for child, child_path in children]
    return None


def fields_of(request: Request, body: bytes) -> dict[str, Any]:
    """A form or JSON body as a dict, by its Content-Type."""
    if require_media_type(request, FORM, JSON) == FORM:
        return form_fields(form_pairs(body))
    return json_object(body)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body exceeds {limit} bytes (webhooks.max_body_bytes)")
