"""`/readyz` for the ingest service: Kafka is reachable (a TCP connection to a bootstrap
server opens), and the topics were created at start."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]


def kafka_reachable(bootstrap_servers: str, timeout_s: float = 1.0) -> ReadinessCheck:
    servers = [server.strip() for server in bootstrap_servers.split(",") if server.strip()]

    async def check() -> dict[str, str]:
        for server in servers:
            host, _, port = server.rpartition(":")
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), timeout_s)
            except (OSError, ValueError, asyncio.TimeoutError):
                continue
            writer.close()
            return {"kafka": "ok"}
        return {"kafka": f"unreachable at {bootstrap_servers}"}

    return check
