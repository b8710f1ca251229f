"""Guards in front of an HTTP app, before any route parses anything: a body-size limit
(declared and streamed) and a refusal of NUL characters in the path or query string, which
no identifier or search term contains and PostgreSQL cannot store."""

from __future__ import annotations

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class RequestGuardMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"") \
                or b"\x00" in scope.get("query_string", b""):
            await _answer(send, 422, "invalid_request", "the path or query string contains a NUL character")
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and not declared.isdigit():
            await _answer(send, 400, "bad_content_length", "Content-Length must be a number of bytes")
            return
        if declared is not None and int(declared) > self.max_body_bytes:
            await _answer(send, 413, "body_too_large", self._too_large())
            return
        received = 0
        exceeded = answered = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def checked_send(message: Message) -> None:
            # the framework may turn the interrupted read into its own error answer: say why instead
            nonlocal answered
            if exceeded:
                if not answered:
                    answered = True
                    await _answer(send, 413, "body_too_large", self._too_large())
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, checked_send)
        except BodyTooLarge:
            if not answered:
                await _answer(send, 413, "body_too_large", self._too_large())

    def _too_large(self) -> str:
        return f"the request body exceeds {self.max_body_bytes} bytes"


async def _answer(send: Send, status: int, code: str, detail: str) -> None:
    body = orjson.dumps({"error": code, "detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
