"""Loopback ports for the servers the tests and benches start.

They come from below the kernel's ephemeral range (`ip_local_port_range`): a port the kernel
hands out for `bind(0)` or an outgoing connection can be taken by any other client between
choosing it and the server binding it (a broker that takes seconds to start lost its port that
way). Each xdist worker draws from a slice of its own, and hands out a port once, so two
workers, or two servers of one test, never choose the same port."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path

LOWEST = 20_000


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _worker_slice() -> range:
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) % count if worker[2:].isdigit() else 0
    top = max(_ephemeral_start(), LOWEST + 1000)
    size = (top - LOWEST) // count
    return range(LOWEST + index * size, LOWEST + (index + 1) * size)


SLICE = _worker_slice()  # fixed for the process: its xdist worker does not change


def _candidates() -> Iterator[int]:
    ports = SLICE
    start = random.randrange(len(ports))  # runs one after another rarely meet ports left in TIME_WAIT
    while True:
        for n in range(len(ports)):
            yield ports[(start + n) % len(ports)]


_next = _candidates()


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    return free_port_run(1)


def free_port_run(length: int) -> int:
    """A port P with P .. P+length-1 free and not handed out before by this process."""
    for _ in range(len(SLICE)):
        base = next(_next)
        run = [base + i for i in range(length)]
        if run[-1] in SLICE and all(bindable(port) for port in run):
            for _ in range(length - 1):  # the rest of the run is taken too
                next(_next)
            return base
    raise RuntimeError("no run of free loopback ports left below the ephemeral range")
