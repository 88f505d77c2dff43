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
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from databases import new_postgres_url
from outage_load import (
    ANSWER_S_MAX,
    DEADLINE_S,
    FAST_S,
    KNOWN_DOWN_S,
    OUTAGE_S,
    POLL_INTERVAL_S,
    PROBE_TIMEOUT_S,
    PROBLEM_JSON,
    RECOVERY_S,
    Answer,
    Load,
    Server,
    _free_port,
    _healthy,
    _through,
)
from tcpproxy import TcpProxy

from api.services import Services
from ledger.app import OPERATOR, FundLedger
from ledger.domain import Donation

pytestmark = pytest.mark.postgres


log = logging.getLogger(__name__)


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
    _check_no_500_and_no_wait(answers, t_stop)
    _check_503s_while_down(answers, t_stop, t_start, seen)
    _check_back_without_a_restart(answers, t_stop, t_start, seen)
    position = _check_every_write_stored_once(server, load, answers)
    _check_views_and_subscription_back(server, position)


def _check_no_500_and_no_wait(answers: list[Answer], t_stop: float) -> None:
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


def _check_503s_while_down(answers: list[Answer], t_stop: float, t_start: float, seen: str) -> None:
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


def _check_back_without_a_restart(
    answers: list[Answer], t_stop: float, t_start: float, seen: str
) -> None:
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


def _check_every_write_stored_once(server: Server, load: Load, answers: list[Answer]) -> int:
    """Every write in once, after the 503s are retried; the log's position after one more."""
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
    return position


def _check_views_and_subscription_back(server: Server, position: int) -> None:
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
