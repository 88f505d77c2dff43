"""Limits on requests: bodies before anything parses them (sized or chunked), and answer times."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("fund_ledger.api")


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


class Deadline:
    """Answer 503 with Retry-After when no answer has started within ``deadline_s``.

    A database that is down or unreachable can hold a request far longer than a caller should
    wait: eventsourcing retries each store call ten times, each waiting for the pool, and a
    connection whose network went silent waits for ever. The handler goes on in a task of its
    own (its late answer is dropped, a late failure logged by its type); a write it completes
    is found again by its Idempotency-Key when the caller retries, as the 503 asks.
    """

    def __init__(self, app: ASGIApp, deadline_s: float, retry_after_s: int) -> None:
        self.app = app
        self.deadline_s = deadline_s
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        abandoned = False

        async def send_unless_abandoned(message: Message) -> None:
            nonlocal started
            if abandoned:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, send_unless_abandoned))
        done, _ = await asyncio.wait({handler}, timeout=self.deadline_s)
        if handler in done or started:
            await handler
            return
        abandoned = True
        handler.add_done_callback(_forget)
        # The route's template, never the path as typed: a path may carry a person's id.
        route = getattr(scope.get("route"), "path", "unmatched")
        log.warning("no answer within %.1f s: %s %s", self.deadline_s, scope["method"], route)
        await _problem(
            send,
            503,
            "store-unavailable",
            f"no answer within {self.deadline_s:g} s; the ledger's database may be unreachable;"
            " try again shortly (a write with an Idempotency-Key is applied at most once)",
            title="Service unavailable",
            headers=[(b"retry-after", str(self.retry_after_s).encode())],
            deadline_s=self.deadline_s,
        )


def _forget(handler: asyncio.Future[None]) -> None:
    """Collect an abandoned handler's outcome, so that asyncio does not report it as lost;
    a failure by its type only, since its message may quote the request's data."""
    if not handler.cancelled() and handler.exception() is not None:
        log.warning("an abandoned request failed later: %s", type(handler.exception()).__name__)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


async def _problem(
    send: Send,
    status: int,
    code: str,
    detail: str,
    *,
    title: str = "Request refused",
    headers: list[tuple[bytes, bytes]] | None = None,
    **facts: Any,
) -> None:
    body = json.dumps(
        {
            "type": f"/problems/{code}",
            "title": title,
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
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
