"""The base of every JSON request body of the agent API: unknown fields are refused, and no
text may hold a NUL character or a lone surrogate (neither can be stored or encoded; a
caller sending one gets a 422 naming the field, not a server error)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class ApiBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        if isinstance(value, str) and not storable(value):
            raise ValueError("must not contain NUL characters or lone surrogates")
        return value


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
