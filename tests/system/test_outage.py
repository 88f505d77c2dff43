"""A database outage under load: 503 with Retry-After, never a 500 nor a hang, then healing.

The service runs as ``python -m fund_ledger serve`` and reaches PostgreSQL through
``tests/tcpproxy.py``, which the tests stop and start: the shared server itself is never touched.
While reads, donations (each with an Idempotency-Key) and health checks arrive at a steady rate,
the proxy either refuses the database (a stopped server: connections cut, new ones refused) or
swallows everything (a silent network) for a few seconds. The promises checked:

* every answer is 200, 201 or 503; each 503 is a problem with Retry-After; none is a 500;
* no answer takes longer than the server's request deadline (plus a little);
* once the outage is known, requests are answered 503 at once, and /healthz says the store is down;
* after the database returns, without a restart: writes succeed and /healthz is 200 within
  ``RECOVERY_S``, everything after that succeeds, the views catch up, and the live runner's
  subscription is back (a write from another process shows without a poll);
* every write acknowledged, or retried with its key after a 503, is in the books exactly once.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from databases import new_postgres_url
from tcpproxy import TcpProxy

from api.services import Services
from ledger.app import OPERATOR, FundLedger
from ledger.domain import Donation

pytestmark = pytest.mark.postgres
log = logging.getLogger(__name__)

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


@pytest.fixture(scope="module")
def server(postgres_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fund with a treasurer, served by a subprocess that reaches PostgreSQL via the proxy."""
    direct_url = new_postgres_url(postgres_database)
    ledger = FundLedger(direct_url)
    ledger.establish_fund(OPERATOR, "停电测试基金", quorum=3)
    _, token = ledger.add_user(OPERATOR, "出纳", "treasurer")
    donor_id = ledger.register_donor(
        ledger.actor_named("出纳"), "南湖宾馆", "enterprise", "named"
    ).id
    ledger.close()
    target = urlsplit(direct_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    folder = tmp_path_factory.mktemp("outage")
    port = _free_port()
    env = {
        **os.environ,
        "FUND_LEDGER_DATABASE_URL": _through(direct_url, proxy.port),
        "FUND_LEDGER_SIGNING_KEY_FILE": str(folder / "no-such.key"),
        "FUND_LEDGER_REQUEST_DEADLINE_S": str(DEADLINE_S),
        "FUND_LEDGER_STORE_PROBE_TIMEOUT_S": str(PROBE_TIMEOUT_S),
        "FUND_LEDGER_POLL_INTERVAL_S": str(POLL_INTERVAL_S),
    }
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fund_ledger", "serve", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Server(
        f"http://127.0.0.1:{port}", proxy, direct_url, token, donor_id, process, log_path
    )
    try:
        deadline = time.monotonic() + 30
        while not _healthy(served.base):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"serve did not come up:\n{served.log_tail()}")
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        proxy.close()


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


def _figures(answers: list[Answer], t_stop: float, t_start: float) -> str:
    def stat(group: list[Answer]) -> str:
        if not group:
            return "none"
        took = sorted(a.took_s for a in group)
        return f"{len(group)}, median {took[len(took) // 2]:.3f} s, max {took[-1]:.3f} s"

    during = [a for a in answers if t_stop < a.ended < t_start]
    after = [a for a in answers if a.started >= t_start and a.status in {200, 201}]
    first_ok = {
        kind: min((a.ended - t_start for a in after if a.kind == kind), default=float("nan"))
        for kind in ("write", "read", "health")
    }
    return (
        f"answers {len(answers)}; during the outage: 503s {stat(during)};"
        f" all answers max {max(a.took_s for a in answers):.3f} s;"
        f" first success after the database returned: write {first_ok['write']:.2f} s,"
        f" read {first_ok['read']:.2f} s, /healthz {first_ok['health']:.2f} s"
    )


# -- the test --------------------------------------------------------------------------------


def _show(answers: list[Answer], t0: float) -> str:
    return "\n".join(
        f"{a.kind:6} start={a.started - t0:6.2f} took={a.took_s:5.2f} {a.status} {a.error or ''}"
        f" {str(a.body)[:120] if a.status != 200 else ''}"
        for a in sorted(answers, key=lambda a: a.started)
    )


@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_an_outage_under_load_gives_503s_and_heals_without_a_restart(
    server: Server, mode: str
) -> None:
    with Load(server) as load:
        time.sleep(1.5)
        t_stop = time.monotonic()
        with server.proxy.down(mode):
            time.sleep(OUTAGE_S)
        t_start = time.monotonic()
        time.sleep(RECOVERY_S + 1.5)
        load.stop()
        answers = list(load.answers)
        _check(server, load, answers, t_stop, t_start, mode)


def _check(
    server: Server, load: Load, answers: list[Answer], t_stop: float, t_start: float, mode: str
) -> None:
    seen = _show(answers, t_stop)
    # The figures in docs/reliability.md: pytest --log-cli-level=INFO shows them.
    log.info("%s outage: %s", mode, _figures(answers, t_stop, t_start))

    # No 500, no lost answer, no other status; each 503 a problem telling when to retry.
    assert answers, "no load ran"
    odd = [a for a in answers if a.status not in {200, 201, 503}]
    assert not odd, f"{len(odd)} answers neither 2xx nor 503:\n{_show(odd, t_stop)}"
    for a in answers:
        if a.status == 503:
            assert a.headers.get("content-type", "").startswith(PROBLEM_JSON), a
            assert int(a.headers["retry-after"]) > 0, a
            assert a.body["status"] == 503, a

    # No answer waits longer than the deadline.
    slow = [a for a in answers if a.took_s > ANSWER_S_MAX]
    assert not slow, f"{len(slow)} answers took over {ANSWER_S_MAX} s:\n{_show(slow, t_stop)}"

    # While the database is away, every answer is a 503; once that is known, an immediate one.
    during = [a for a in answers if t_stop + 0.2 < a.ended < t_start]
    assert during, seen
    assert all(a.status == 503 for a in during), seen
    known = [a for a in during if a.started > t_stop + KNOWN_DOWN_S and a.kind != "health"]
    assert {a.kind for a in known} == {"write", "read"}, seen
    held = [a for a in known if a.took_s > FAST_S]
    assert not held, f"held although the store was known down:\n{_show(held, t_stop)}"
    health_down = [a for a in during if a.kind == "health"]
    assert health_down, seen
    assert all(a.body.get("store") == "down" for a in health_down), _show(health_down, t_stop)

    # Back without a restart: writes and /healthz succeed soon, then everything does.
    after = [a for a in answers if a.started >= t_start]
    first_write = min((a.ended for a in after if a.kind == "write" and a.status == 201), default=0)
    first_health = min(
        (a.ended for a in after if a.kind == "health" and a.status == 200), default=0
    )
    assert t_start < first_write < t_start + RECOVERY_S, seen
    assert t_start < first_health < t_start + RECOVERY_S, seen
    late = [a for a in after if a.started > t_start + RECOVERY_S and a.status not in {200, 201}]
    assert not late, f"failures after recovery:\n{_show(late, t_stop)}"

    # A write refused with 503 is retried with its key, as the answer asks: then all are in.
    refused = {a.key for a in answers if a.kind == "write" and a.status == 503}
    for key in sorted(refused):
        retried = load.donate(key)
        assert retried.status == 201, retried
    keys = {a.key for a in answers if a.kind == "write"}
    acknowledged = {a.key: a.body["id"] for a in load.answers if a.status == 201}
    assert set(acknowledged) == keys
    ledger = FundLedger(server.direct_url)
    try:
        for key, donation_id in acknowledged.items():
            assert donation_id == str(Donation.create_id(key)), key
            assert ledger.recorder.select_events(Donation.create_id(key), limit=2), key
        # The views catch up with the log, and the subscription is back: a write made by
        # another process shows within a second, although the server polls only every 10 s.
        ledger.record_donation(
            ledger.actor_named("出纳"),
            server.donor_id,
            100,
            date(2026, 3, 10),
            "cash",
            receipt_no=f"outage-{load.tag}-elsewhere",
        )
        position = ledger.position()
    finally:
        ledger.close()
    deadline = time.monotonic() + 1.5
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = httpx.get(f"{server.base}/healthz", timeout=ANSWER_S_MAX).json()
        if all(v["position"] >= position for v in health["views"].values()):
            break
        time.sleep(0.05)
    assert health["log_position"] == position, health
    assert all(v["position"] == position for v in health["views"].values()), health
    assert health["listening"] is True, health
    assert health["store"] == "up", health


def test_a_restarted_database_costs_no_request(server: Server) -> None:
    """The database restarts between two requests: the pooled connections it cut are found
    dead before a request is given one, so no caller sees the restart."""
    with httpx.Client(base_url=server.base, timeout=ANSWER_S_MAX) as client:
        for _ in range(3):  # several connections into the pool, then idle
            assert client.get("/v1/donations", params={"limit": 5}).status_code == 200
        server.proxy.stop("refuse")
        server.proxy.start()
        answers = [client.get("/v1/donations", params={"limit": 5}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]


class _SlowViews:
    """Views whose status takes longer than the probe may wait."""

    def status(self) -> list[Any]:
        time.sleep(0.3)
        return []


@pytest.mark.parametrize("answered", [True, False])
def test_a_slow_probe_closes_the_gate_only_if_no_request_is_answered(answered: bool) -> None:
    """Under heavy load the probe queues for the pool like any request; requests answered
    from the store meanwhile show it is busy, not gone, so the gate stays open."""
    services = Services(
        ledger=None,  # type: ignore[arg-type]
        views=_SlowViews(),  # type: ignore[arg-type]
        reader=None,  # type: ignore[arg-type]
        runner=None,  # type: ignore[arg-type]
        wait_s=0,
        log=None,  # type: ignore[arg-type]
        store_probe_timeout_s=0.05,
    )
    try:
        threading.Timer(0.01, services.store_answered if answered else lambda: None).start()
        with pytest.raises(TimeoutError):
            services.store_status()
        assert services.store_up is answered
    finally:
        services._probes.shutdown(wait=True)
