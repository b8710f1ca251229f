"""Durations as written in the configuration: "90s", "30m", "2h", "3d" (and combinations
such as "1h30m")."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    compact = text.replace(" ", "").lower()
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f'duration {text!r}: write it like "30m", "2h", "1h30m" or "3d"')
    return sum((timedelta(**{_UNIT[unit]: float(number)}) for number, unit in parts), timedelta())
