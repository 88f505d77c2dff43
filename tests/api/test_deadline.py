"""The answer-time limit (``api.limits.Deadline``): a 503 at the deadline, whatever the handler
does after it, nothing logged that the request carried, and nothing changed for a handler that
answers in time."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from api.limits import Deadline

DEADLINE_S = 0.2
SCOPE = {"type": "http", "method": "GET", "path": "/v1/donors/张三-13800000000", "headers": []}


async def _call(app: Any, after_s: float = 0.0) -> list[tuple[float, Message]]:
    """The messages sent, each with when (from the call), waiting ``after_s`` past the call."""
    sent: list[tuple[float, Message]] = []
    began = time.monotonic()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append((time.monotonic() - began, message))

    await Deadline(app, DEADLINE_S, retry_after_s=2)(dict(SCOPE), receive, send)
    await asyncio.sleep(after_s)
    return sent


async def _answer(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}", "more_body": False})


def test_a_handler_in_time_is_answered_as_it_answers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.01)
        await _answer(send, 201)

    sent = asyncio.run(_call(app))
    assert [m["type"] for _, m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0][1]["status"] == 201


def test_a_slow_handler_is_answered_503_at_the_deadline_and_its_late_answer_dropped() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(DEADLINE_S * 3)
        await _answer(send, 201)

    sent = asyncio.run(_call(app))
    statuses = [m["status"] for _, m in sent if m["type"] == "http.response.start"]
    assert statuses == [503]
    started_s = next(t for t, m in sent if m["type"] == "http.response.start")
    assert DEADLINE_S <= started_s < DEADLINE_S * 2
    body = json.loads(b"".join(m.get("body", b"") for _, m in sent))
    assert body["type"].endswith("store-unavailable")
    assert (b"retry-after", b"2") in sent[0][1]["headers"]


def test_a_handler_failing_after_its_deadline_is_logged_by_type_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(DEADLINE_S * 2)
        raise ValueError("donor 张三 13800000000")

    with caplog.at_level(logging.WARNING, logger="fund_ledger.api"):
        sent = asyncio.run(_call(app, after_s=DEADLINE_S * 2))
    assert [m["status"] for _, m in sent if m["type"] == "http.response.start"] == [503]
    assert "ValueError" in caplog.text
    assert "no answer within" in caplog.text
    assert "13800000000" not in caplog.text  # neither the message nor the path as typed


def test_a_handler_failing_in_time_raises_to_the_app() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(_call(app))
