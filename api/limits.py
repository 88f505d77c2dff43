"""Request bodies are limited before anything parses them, whether sized or chunked."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """Refuse a body over ``limit_bytes`` with 413, reading at most that much of it."""

    def __init__(self, app: ASGIApp, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await _problem(send, 400, "bad-request", "Content-Length is not a number")
                return
            if int(length) > self.limit_bytes:
                await self._too_large(send)
                return
        # A chunked body has no length up front: read it, counting, before the app sees it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit_bytes:
                await self._too_large(send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        await self.app(
            scope, _replay([{"type": "http.request", "body": b"".join(chunks)}], receive), send
        )

    async def _too_large(self, send: Send) -> None:
        await _problem(
            send,
            413,
            "body-too-large",
            f"request bodies are limited to {self.limit_bytes} bytes",
            limit_bytes=self.limit_bytes,
        )


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


async def _problem(send: Send, status: int, code: str, detail: str, **facts: Any) -> None:
    body = json.dumps(
        {
            "type": f"/problems/{code}",
            "title": "Request refused",
            "status": status,
            "detail": detail,
            **facts,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
