"""Real peers for the notifier's integration tests: an SMTP server (aiosmtpd) and an HTTP
receiver (aiohttp) on free ports, both recording what they accepted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiohttp import web
from aiosmtpd.controller import Controller

from shared.kafka.local_broker import free_port


class SmtpPeer:
    """An SMTP server that can be started and stopped on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> SmtpPeer:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]

    def recipients(self) -> list[str]:
        return sorted(str(m["X-Envelope-To"]) for m in self.messages)


@dataclass
class Received:
    path: str
    status: int
    body: dict
    headers: dict[str, str]


@dataclass
class HttpReceiver:
    """Answers each path with the scripted statuses in turn (then 200) and records every request."""

    script: dict[str, list[int]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        statuses = self.script.get(request.path, [])
        status = statuses.pop(0) if statuses else 200
        self.requests.append(Received(request.path, status, await request.json(), dict(request.headers)))
        return web.json_response({"ok": status == 200}, status=status)

    async def start(self) -> HttpReceiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def accepted(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path and r.status == 200]


async def wait_until(condition: Callable[[], Awaitable[bool] | bool], what: str, limit: float = 60.0) -> None:
    """Polls until `condition` holds; the limit only guards against a hanging test."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting: {what}")
