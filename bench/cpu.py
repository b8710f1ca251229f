"""CPU time that processes spent (user + system), read from /proc: which part of a run the
machine's cores went to, so that a rate can be set against what the cores allow. Linux only;
elsewhere the readings are empty and a bench leaves them out of its notes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

PROC = Path("/proc")


def _ticks_per_second() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        return 100


TICKS = _ticks_per_second()


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces; the fields after it are plain
    return text.rsplit(")", 1)[1].split()


def process_seconds(pid: int) -> float:
    """User plus system seconds of one process so far; 0 for one that is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields is not None else None


def with_descendants(roots: Iterable[int]) -> set[int]:
    """The given processes and every process below them (a PostgreSQL postmaster's backends)."""
    found = set(roots)
    if not PROC.is_dir():
        return found
    parents = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                parents[int(entry.name)] = parent
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found and pid not in found}
        found |= children
        grew = bool(children)
    return found


def machine_seconds() -> tuple[float, int]:
    """(busy seconds of all cores so far, number of cores) from /proc/stat; (0, cores) elsewhere."""
    cores = os.cpu_count() or 1
    try:
        first = (PROC / "stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0, cores
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in first[1:9])
    return (user + nice + system + irq + softirq + steal) / TICKS, cores


class CpuMeter:
    """CPU seconds per named group of processes between `start()` and `stop()`. Groups are
    given as callables returning pids, asked at both ends; a process that ended in between
    is not counted, so stop the clock before stopping what it measures."""

    def __init__(self, groups: Mapping[str, Callable[[], Iterable[int]]]) -> None:
        self.groups = groups
        self._first: dict[str, dict[int, float]] = {}
        self._machine_first = 0.0

    def _read(self) -> dict[str, dict[int, float]]:
        readings = {}
        for name, pids in self.groups.items():
            readings[name] = {pid: process_seconds(pid) for pid in pids()}
        return readings

    def start(self) -> None:
        self._first = self._read()
        self._machine_first = machine_seconds()[0]

    def stop(self) -> dict[str, float]:
        """Seconds per group, plus `machine` (all busy cores, anything running) since start()."""
        last = self._read()
        spent = {}
        for name, readings in last.items():
            before = self._first.get(name, {})
            spent[name] = sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in readings.items())
        spent["machine"] = machine_seconds()[0] - self._machine_first
        return spent
