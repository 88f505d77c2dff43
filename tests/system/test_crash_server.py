"""A crash of the server: `fund-ledger serve` killed with SIGKILL under load, then restarted."""

from __future__ import annotations

import random
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from helpers import DAY, World, stored_events
from processes import (
    KILLS,
    ORIGIN,
    SEED,
    START_TIMEOUT_S,
    Process,
    open_writes,
    record_figures,
    views_differing_from_a_rebuild,
    wait_until,
)
from typer.testing import CliRunner

from fund_ledger import cli, common
from ledger.app import OPERATOR, FundLedger
from ledger.domain.money import parse_yuan
from ledger.domain.yuan import format_yuan
from ledger.log.notes import Signer
from projections.audit import check_store
from projections.log.queries import Log
from projections.runner import Views

pytestmark = pytest.mark.postgres


# The server under load: clients, and donations each sends one after another.
CLIENTS = 4
DONATIONS_PER_CLIENT = 40


ANSWER_TIMEOUT_S = 45.0  # a request not answered by then (retries and all) fails the test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kill_in_a_write(
    process: Process, admin: psycopg.Connection[Any], app_name: str, timeout_s: float
) -> int:
    """SIGKILL the process as soon as it has a write transaction open, or after ``timeout_s``;
    how many it had open when last looked at."""
    deadline = time.monotonic() + timeout_s
    while (open_now := open_writes(admin, app_name)) == 0 and time.monotonic() < deadline:
        time.sleep(0.002)
    process.kill()
    return open_now


# -- the server ------------------------------------------------------------------------------


@dataclass
class Request:
    key: str
    body: dict[str, Any]
    attempts: int = 0
    status: int | None = None
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class Load:
    """Clients sending donations, each retrying what got no answer with the same key and body."""

    base_url: str
    token: str
    requests: list[list[Request]]
    answered: int = 0
    retries: int = 0
    unanswered_errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self, requests: list[Request]) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = httpx.Timeout(15.0, connect=2.0)
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout) as client:
            for request in requests:
                if self.stopping.is_set():  # the test failed: leave the rest unsent
                    return
                self.send(client, request)

    def send(self, client: httpx.Client, request: Request) -> None:
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while time.monotonic() < deadline and not self.stopping.is_set():
            request.attempts += 1
            try:
                response = client.post(
                    "/v1/donations", json=request.body, headers={"Idempotency-Key": request.key}
                )
            except httpx.TransportError as error:  # refused, reset, cut mid-answer
                self.unanswered(type(error).__name__, request.attempts)
                continue
            if response.status_code == 503:
                self.unanswered("503", request.attempts)
                continue
            request.status = response.status_code
            request.answer = response.json()
            with self.lock:
                self.answered += 1
            return

    def has_answered(self, count: int) -> bool:
        return self.answered >= count

    def unanswered(self, why: str, attempts: int) -> None:
        """Count it, then wait a little longer after each failure, as a polite client does."""
        with self.lock:
            self.retries += 1
            self.unanswered_errors[why] += 1
        time.sleep(min(0.5, 0.025 * 2**attempts))


def donation_requests(world: World, rng: random.Random) -> list[list[Request]]:
    """Each client's donations: own key, own receipt number, amounts and kinds at random."""
    donors = list(world.donors.values())
    projects = [None, *world.projects.values()]
    channels = ["bank_transfer", "cash", "wechat_pay", "alipay", "in_kind"]
    return [
        [
            Request(
                key=f"crash-{client}-{n}",
                body={
                    "donor_id": rng.choice(donors),
                    "amount": format_yuan(rng.randint(100, 500_000)),
                    "received_on": (DAY + timedelta(days=rng.randint(0, 60))).isoformat(),
                    "channel": rng.choice(channels),
                    "receipt_no": f"CR{client:02d}-{n:04d}",
                    "project_id": rng.choice(projects),
                },
            )
            for n in range(DONATIONS_PER_CLIENT)
        ]
        for client in range(CLIENTS)
    ]


@dataclass
class Kills:
    """The moments the server is killed (after so many answers), and what each kill met."""

    after_answers: list[int]
    open_writes: list[int] = field(default_factory=list)
    restart_s: list[float] = field(default_factory=list)
    load_s: float = 0.0


def _server(
    world: World, postgres_url: str, app_name: str, tmp_path: Path
) -> tuple[Process, str, str, Signer]:
    """``fund-ledger serve`` on the world's store, signing often: the process, its URL, a
    treasurer's token and the key that signs."""
    _, token = world.app.add_user(OPERATOR, "出纳crash-load", "treasurer")
    signer = Signer.generate(ORIGIN)
    key_file = tmp_path / "signing.key"
    key_file.write_text(signer.encode() + "\n")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = Process(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        {
            "FUND_LEDGER_DATABASE_URL": postgres_url.replace("pool_size=1", "pool_size=2"),
            "FUND_LEDGER_SIGNING_KEY_FILE": str(key_file),
            "FUND_LEDGER_CHECKPOINT_INTERVAL_S": "0.3",
            "PGAPPNAME": app_name,
        },
        tmp_path,
    )
    return server, base_url, token, signer


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def _serve_the_load_killing_the_server(
    server: Process,
    load: Load,
    kills: Kills,
    admin: psycopg.Connection[Any],
    app_name: str,
    rng: random.Random,
) -> None:
    healthy = partial(_healthy, load.base_url)
    started = time.monotonic()
    server.start()
    try:
        wait_until(healthy, START_TIMEOUT_S, "the server starting")
        clients = [threading.Thread(target=load.run, args=(r,), daemon=True) for r in load.requests]
        for client in clients:
            client.start()
        for threshold in kills.after_answers:
            wait_until(partial(load.has_answered, threshold), ANSWER_TIMEOUT_S, "answers")
            time.sleep(rng.uniform(0.0, 0.05))
            # Within the next second, the first moment a transaction of the server has written
            # and not committed (a command or a view batch), so the kill cuts one if it can.
            kills.open_writes.append(kill_in_a_write(server, admin, app_name, timeout_s=1.0))
            server.start()
            kills.restart_s.append(wait_until(healthy, START_TIMEOUT_S, "the server restarting"))
        joined_by = time.monotonic() + ANSWER_TIMEOUT_S * 2
        for client in clients:
            client.join(timeout=max(0.0, joined_by - time.monotonic()))
        assert server.alive(), server.output()
    finally:
        load.stopping.set()
        exit_code = server.stop()
    kills.load_s = time.monotonic() - started
    # uvicorn shuts down in order on SIGTERM, then ends by the same signal.
    assert exit_code in {0, -signal.SIGTERM}, server.output()


def _assert_one_donation_per_key(
    ledger: FundLedger, everything: list[Request]
) -> tuple[list[Any], list[str], list[str]]:
    """The stored events, and the keys lost and doubled (none, or the test fails)."""
    # Exactly one donation per key, each the one its answer named, with the body's figures.
    events = stored_events(ledger)
    received = [e for e in events if type(e).__qualname__ == "Donation.Received"]
    by_key = {r.key: r for r in everything}
    stored_keys = Counter(e.meta.idempotency_key for e in received)
    doubled = sorted(k for k, n in stored_keys.items() if n > 1)
    lost = sorted(set(by_key) - set(stored_keys))
    assert not doubled, f"stored twice: {doubled[:10]}"
    assert not lost, f"answered but not stored: {lost[:10]}"
    assert set(stored_keys) == set(by_key)
    for event in received:
        request = by_key[event.meta.idempotency_key]
        assert str(event.originator_id) == request.answer["id"]
        assert event.amount_fen == parse_yuan(request.body["amount"])
        assert event.receipt_no == request.body["receipt_no"]
    records = Counter(e.key for e in events if type(e).__qualname__ == "IdempotencyRecord.Recorded")
    assert records == Counter(dict.fromkeys(by_key, 1))
    return events, lost, doubled


def _assert_the_books_and_the_log_verify(
    ledger: FundLedger, everything: list[Request], events: list[Any], signer: Signer, tmp_path: Path
) -> tuple[list[str], int]:
    """The views that differ from a rebuild (none, or the test fails), and the checkpoints."""
    # The books balance, every view equals a rebuild, and the log with its checkpoints verifies.
    position = ledger.summary()
    cash = [r.body for r in everything if r.body["channel"] != "in_kind"]
    in_kind = [r.body for r in everything if r.body["channel"] == "in_kind"]
    assert position.received_total_fen == sum(parse_yuan(b["amount"]) for b in cash)
    assert position.in_kind_total_fen == sum(parse_yuan(b["amount"]) for b in in_kind)
    views = Views(ledger)
    views.catch_up()
    log = Log(views.view("log"), origin=ORIGIN)
    checkpoints = len(log.checkpoints())
    assert checkpoints > 0, "the server signed no checkpoint"
    # What an operator runs after a crash: every event against its leaf and the checkpoints.
    # Counted, not the last position: a transaction cut by a kill leaves a gap in the sequence.
    public_key = tmp_path / "signing.pub"
    public_key.write_text(signer.verifier.encode() + "\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(common, "open_ledger", lambda: ledger)  # the fixture closes it
        verified = CliRunner().invoke(cli.app, ["verify", "--store", "--key", str(public_key)])
    assert verified.exit_code == 0, verified.output
    assert f"the store's {len(events)} events match" in verified.stdout
    differing = views_differing_from_a_rebuild(ledger, views)
    assert not differing, f"views that differ from a rebuild: {differing}"
    assert check_store(ledger, log, signer.verifier) == len(events)
    return differing, checkpoints


def test_a_server_killed_under_load_loses_and_doubles_nothing(
    world: World, postgres_url: str, admin: psycopg.Connection[Any], tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    app_name = f"crash-server-{uuid.uuid4().hex[:8]}"
    ledger = world.app
    server, base_url, token, signer = _server(world, postgres_url, app_name, tmp_path)
    requests = donation_requests(world, rng)
    total = CLIENTS * DONATIONS_PER_CLIENT
    load = Load(base_url, token, requests)
    # Kill after these many answers (and a few milliseconds more), while the clients are busy.
    kills = Kills(sorted(rng.sample(range(total // 10, total * 9 // 10), KILLS)))
    _serve_the_load_killing_the_server(server, load, kills, admin, app_name, rng)

    everything = [r for client in requests for r in client]
    statuses = Counter(r.status for r in everything)
    assert statuses == Counter({201: total}), (statuses, server.output())
    assert load.retries > 0, "no request was cut short: the kills hit nothing"

    events, lost, doubled = _assert_one_donation_per_key(ledger, everything)
    # Answered on a retry with the first attempt's result: stored before the kill, unanswered.
    replayed = sum(1 for r in everything if r.answer.get("replayed"))
    differing, checkpoints = _assert_the_books_and_the_log_verify(
        ledger, everything, events, signer, tmp_path
    )

    record_figures(
        "server",
        {
            "test": "tests/system/test_crash_server.py::"
            "test_a_server_killed_under_load_loses_and_doubles_nothing",
            "seed": SEED,
            "clients": CLIENTS,
            "requests": total,
            "acknowledged": statuses[201],
            "attempts": sum(r.attempts for r in everything),
            "retries": load.retries,
            "retried_because": dict(load.unanswered_errors),
            "requests_retried": sum(1 for r in everything if r.attempts > 1),
            "stored_before_kill_answered_on_retry": replayed,
            "write_transactions_open_at_kills": kills.open_writes,
            "kills": len(kills.after_answers),
            "restart_s": [round(s, 2) for s in kills.restart_s],
            "events_lost": len(lost),
            "events_doubled": len(doubled),
            "views_differing_from_rebuild": len(differing),
            "checkpoints_signed": checkpoints,
            "load_s": round(kills.load_s, 1),
        },
    )
