"""The harness of the outage tests: the server behind its TCP proxy, and a steady load of writes,
reads and health checks whose every answer is kept.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from tcpproxy import TcpProxy

# The server's own limits, set short so that a few seconds of outage exercise them.
DEADLINE_S = 2.5  # request_deadline_s: no answer later than this (the default is 8 s)
PROBE_TIMEOUT_S = 1.0  # store_probe_timeout_s: /healthz says "down" after this
POLL_INTERVAL_S = 10.0  # so slow that only the subscription can show another process's write
# The test's bounds.
ANSWER_S_MAX = DEADLINE_S + 1.0  # the longest any answer may take, transport included
OUTAGE_S = 4.0  # longer than the deadline, so that requests caught in it must be cut short
KNOWN_DOWN_S = 2.0  # by then the server knows the store is down...
FAST_S = 0.5  # ...and answers 503 within this
RECOVERY_S = 2.5  # writes succeed and /healthz is 200 within this after the database is back
ARRIVALS_PER_S = 20  # requests of each kind (donation, read, health check)
PROBLEM_JSON = "application/problem+json"


@dataclass
class Answer:
    kind: str  # "write", "read" or "health"
    started: float
    ended: float
    status: int | None  # None when the transport failed (a timeout, a reset)
    headers: dict[str, str]
    body: Any
    key: str | None = None
    error: str | None = None

    @property
    def took_s(self) -> float:
        return self.ended - self.started


@dataclass
class Server:
    base: str
    proxy: TcpProxy
    direct_url: str  # the same store, bypassing the proxy
    token: str
    donor_id: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}@{parts.hostname}:{port}" if parts.username else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# -- the load --------------------------------------------------------------------------------


@dataclass
class Load:
    """Donations, reads and health checks arriving at a steady rate, whatever the answers.

    Arrivals do not wait for earlier answers, as callers on the internet do not: that is what
    makes requests pile up when a server holds them.
    """

    server: Server
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    answers: list[Answer] = field(default_factory=list)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    _serial: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            base_url=self.server.base,
            timeout=ANSWER_S_MAX + 10,  # the test measures; the client only must not hang
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self.pool = ThreadPoolExecutor(max_workers=48, thread_name_prefix="load")
        self.clock = threading.Thread(target=self._arrivals, daemon=True)

    def __enter__(self) -> Load:
        self.clock.start()
        return self

    def stop(self) -> None:
        """No more arrivals; returns once every request sent has its answer."""
        self._stop.set()
        self.clock.join(timeout=5)
        self.pool.shutdown(wait=True)

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.client.close()

    def _arrivals(self) -> None:
        interval_s = 1.0 / ARRIVALS_PER_S
        while not self._stop.wait(interval_s):
            self.pool.submit(self.donate)
            self.pool.submit(self.ask, "read", "/v1/donations", {"limit": 5})
            self.pool.submit(self.ask, "health", "/healthz", None)

    def new_donation(self) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self._serial += 1
            key = f"outage-{self.tag}-{self._serial:05d}"
        body = {
            "donor_id": self.server.donor_id,
            "amount": "10.00",
            "received_on": "2026-03-10",
            "channel": "cash",
            "receipt_no": key,
        }
        self.bodies[key] = body
        return key, body

    def donate(self, key: str | None = None) -> Answer:
        if key is None:
            key, body = self.new_donation()
        else:
            body = self.bodies[key]
        headers = {"Authorization": f"Bearer {self.server.token}", "Idempotency-Key": key}
        return self._send("write", "POST", "/v1/donations", key, json=body, headers=headers)

    def ask(self, kind: str, path: str, params: dict[str, Any] | None) -> Answer:
        return self._send(kind, "GET", path, None, params=params)

    def _send(self, kind: str, method: str, path: str, key: str | None, **kw: Any) -> Answer:
        started = time.monotonic()
        try:
            response = self.client.request(method, path, **kw)
        except httpx.HTTPError as error:
            answer = Answer(kind, started, time.monotonic(), None, {}, None, key, repr(error))
        else:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            headers = {k.lower(): v for k, v in response.headers.items()}
            answer = Answer(
                kind, started, time.monotonic(), response.status_code, headers, body, key
            )
        with self._lock:
            self.answers.append(answer)
        return answer
