"""Crashes: the server and the projection worker killed with SIGKILL under load, then restarted.

Each test runs the real command (``python -m fund_ledger serve``, ``fund-ledger projections
run``) in its own process on a fresh PostgreSQL schema, kills it at moments chosen by a seeded
random generator while it works, and starts it again on the same store. Afterwards: every
request answered once and stored once, the books balance, every view equals a rebuild, and the
log verifies. The figures of each run go to build/reliability/crash.json (and are printed).
FUND_LEDGER_CRASH_SEED picks other moments.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from helpers import DAY, World, build_world, snapshot, stored_events
from typer.testing import CliRunner

from fund_ledger import cli, common
from ledger.app import OPERATOR, FundLedger
from ledger.domain.money import parse_yuan
from ledger.domain.yuan import format_yuan
from ledger.log.notes import Signer
from projections.audit import check_store
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = ROOT / "build" / "reliability" / "crash.json"
SEED = int(os.environ.get("FUND_LEDGER_CRASH_SEED", "8001"))
KILLS = 3
ORIGIN = "fund-ledger.test/crash"

# The server under load: clients, and donations each sends one after another.
CLIENTS = 4
DONATIONS_PER_CLIENT = 40
# The worker: events stored before it starts, and more added while it restarts.
BACKLOG_DONATIONS = 3000
LATE_DONATIONS = 300

START_TIMEOUT_S = 30.0
ANSWER_TIMEOUT_S = 45.0  # a request not answered by then (retries and all) fails the test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """One fund-ledger command in its own process, killed and started again on the same store."""

    def __init__(self, args: list[str], env: dict[str, str], folder: Path) -> None:
        self.args = [sys.executable, "-m", "fund_ledger", *args]
        self.env = {**os.environ, **env}
        self.folder = folder
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        output = (self.folder / f"{self.args[3]}-{self.starts}.log").open("wb")
        self.popen = subprocess.Popen(
            self.args, env=self.env, cwd=self.folder, stdout=output, stderr=subprocess.STDOUT
        )
        output.close()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, sockets and transactions cut where they are."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM, the orderly way; the exit code."""
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else 0
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def output(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob(f"{self.args[3]}-*.log"))
        )


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until ``condition()`` held; fails the test after ``timeout_s``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"{what}: not within {timeout_s} s")
        time.sleep(0.05)
    return time.monotonic() - started


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Keep this test's figures beside the other's in build/reliability/crash.json; print them."""
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        everything = json.loads(FIGURES_FILE.read_text())
    except (OSError, ValueError):
        everything = {}
    everything[name] = figures
    FIGURES_FILE.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")
    print(f"\n{name}: {json.dumps(figures, sort_keys=True)}")  # noqa: T201


def views_differing_from_a_rebuild(ledger: FundLedger, views: Views) -> list[str]:
    """The tables of the views as the crashed processes left them (caught up, balanced) that
    differ from a fresh rebuild; the views are rebuilt afterwards."""
    assert all(status.lag == 0 for status in views.status()), views.status()
    reader = Reader(views)
    assert reader.summary() == ledger.summary()
    trial = reader.trial_balance()
    assert sum(parse_yuan(r["debit"], allow_zero=True) for r in trial) == sum(
        parse_yuan(r["credit"], allow_zero=True) for r in trial
    )
    incremental = snapshot(views)
    views.rebuild()
    rebuilt = snapshot(views)
    assert set(rebuilt) == set(incremental)
    return sorted(t for t in rebuilt if rebuilt[t] != incremental[t])


def open_writes(admin: psycopg.Connection[Any], app_name: str) -> int:
    """Transactions of the process named ``app_name`` that have written and not committed."""
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = %s AND backend_xid IS NOT NULL",
        (app_name,),
    ).fetchone()
    return int(row[0]) if row else 0


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


@pytest.fixture
def admin(postgres_database: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection that watches the processes under test in pg_stat_activity."""
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        yield conn


@pytest.fixture
def world(postgres_url: str) -> Iterator[World]:
    ledger = FundLedger(postgres_url)
    yield build_world(ledger, tag="crash")
    ledger.close()


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


def test_a_server_killed_under_load_loses_and_doubles_nothing(
    world: World, postgres_url: str, admin: psycopg.Connection[Any], tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    app_name = f"crash-server-{uuid.uuid4().hex[:8]}"
    ledger = world.app
    _, token = ledger.add_user(OPERATOR, "出纳crash-load", "treasurer")
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

    def healthy() -> bool:
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    requests = donation_requests(world, rng)
    total = CLIENTS * DONATIONS_PER_CLIENT
    load = Load(base_url, token, requests)
    # Kill after these many answers (and a few milliseconds more), while the clients are busy.
    kill_after = sorted(rng.sample(range(total // 10, total * 9 // 10), KILLS))
    restart_s: list[float] = []
    open_at_kills: list[int] = []
    started = time.monotonic()
    server.start()
    try:
        wait_until(healthy, START_TIMEOUT_S, "the server starting")
        clients = [threading.Thread(target=load.run, args=(r,), daemon=True) for r in requests]
        for client in clients:
            client.start()
        for threshold in kill_after:
            wait_until(partial(load.has_answered, threshold), ANSWER_TIMEOUT_S, "answers")
            time.sleep(rng.uniform(0.0, 0.05))
            # Within the next second, the first moment a transaction of the server has written
            # and not committed (a command or a view batch), so the kill cuts one if it can.
            open_at_kills.append(kill_in_a_write(server, admin, app_name, timeout_s=1.0))
            server.start()
            restart_s.append(wait_until(healthy, START_TIMEOUT_S, "the server restarting"))
        joined_by = time.monotonic() + ANSWER_TIMEOUT_S * 2
        for client in clients:
            client.join(timeout=max(0.0, joined_by - time.monotonic()))
        assert server.alive(), server.output()
    finally:
        load.stopping.set()
        exit_code = server.stop()
    load_s = time.monotonic() - started
    # uvicorn shuts down in order on SIGTERM, then ends by the same signal.
    assert exit_code in {0, -signal.SIGTERM}, server.output()

    everything = [r for client in requests for r in client]
    statuses = Counter(r.status for r in everything)
    assert statuses == Counter({201: total}), (statuses, server.output())
    assert load.retries > 0, "no request was cut short: the kills hit nothing"

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
    # Answered on a retry with the first attempt's result: stored before the kill, unanswered.
    replayed = sum(1 for r in everything if r.answer.get("replayed"))

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

    record_figures(
        "server",
        {
            "test": "tests/system/test_crash.py::"
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
            "write_transactions_open_at_kills": open_at_kills,
            "kills": len(kill_after),
            "restart_s": [round(s, 2) for s in restart_s],
            "events_lost": len(lost),
            "events_doubled": len(doubled),
            "views_differing_from_rebuild": len(differing),
            "checkpoints_signed": checkpoints,
            "load_s": round(load_s, 1),
        },
    )


# -- the projection worker -------------------------------------------------------------------


def add_donations(world: World, count: int, prefix: str) -> None:
    """``count`` donations in batches of a thousand, restricted or not, of every size."""
    projects = [None, *world.projects.values()]
    donors = list(world.donors.values())
    for start in range(0, count, 1000):
        items = [
            {
                "donor_id": donors[n % len(donors)],
                "amount_fen": 100 + (n * 7919) % 1_000_000,
                "received_on": DAY + timedelta(days=n % 90),
                "channel": "in_kind" if n % 17 == 0 else "bank_transfer",
                "receipt_no": f"{prefix}-{n:05d}",
                "project_id": projects[n % len(projects)],
            }
            for n in range(start, min(count, start + 1000))
        ]
        world.app.record_donations(world.treasurer, items)


def kill_worker(
    worker: Process,
    admin: psycopg.Connection[Any],
    app_name: str,
    positions: Callable[[], dict[str, int]],
    top_up: Callable[[], None] | None,
) -> tuple[dict[str, int], bool]:
    """SIGKILL the worker now, or with ``top_up`` as soon as one of its batches has written rows
    and not committed them (giving it more work if it has none). The views' positions read
    just before, and whether a batch was open then."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        before = positions()
        batch_open = open_writes(admin, app_name) > 0
        if batch_open or top_up is None:
            worker.kill()
            return before, batch_open
        if time.monotonic() > deadline:
            pytest.fail("the worker never had a batch in flight")
        top_up()
        time.sleep(0.005)


def test_a_projection_worker_killed_mid_batch_applies_everything_once(
    world: World, postgres_url: str, admin: psycopg.Connection[Any], tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    ledger = world.app
    app_name = f"crash-worker-{uuid.uuid4().hex[:8]}"
    # Grants and expenses as well as gifts, so every view has several kinds of rows to write.
    add_donations(world, BACKLOG_DONATIONS, "BK")
    for project in ("noodles", "health", "barber"):
        grant = world.grant(project, "20000.00")
        world.spend(grant, "1234.56")
        world.spend(grant, "99.01", category="management")
    views = Views(ledger)
    worker = Process(
        ["projections", "run", "--poll-interval", "0.1"],
        {"FUND_LEDGER_DATABASE_URL": postgres_url, "PGAPPNAME": app_name},
        tmp_path,
    )

    def positions() -> dict[str, int]:
        return {spec.name: views.position(spec.name) for spec in views.specs}

    def caught_up() -> bool:
        return all(p == ledger.position() for p in positions().values())

    def moved(since: dict[str, int]) -> bool:
        return positions() != since

    top_ups = [0]

    def top_up() -> None:
        """More work for a worker that finished before the moment came to kill it."""
        if caught_up():
            top_ups[0] += 1
            add_donations(world, LATE_DONATIONS, f"MORE{top_ups[0]}")

    kills: list[dict[str, Any]] = []
    started = time.monotonic()
    worker.start()
    try:
        for _ in range(KILLS):
            before = positions()
            # Once it is applying (some view moved), wait a random moment; then kill it the
            # instant a batch has written rows and not committed them, or (the second time)
            # right there, whatever it is doing.
            wait_until(partial(moved, before), START_TIMEOUT_S, "the worker applying events")
            time.sleep(rng.uniform(0.0, 1.0))
            at_kill, batch_open = kill_worker(
                worker, admin, app_name, positions, None if len(kills) == 1 else top_up
            )
            time.sleep(0.1)  # a COMMIT the database had already received may still land
            after = positions()
            kills.append(
                {
                    "positions": after,
                    # A batch was open and nothing committed from before it was seen until the
                    # kill: that batch was cut with its rows written and not committed.
                    "cut_open_batch": batch_open and after == at_kill,
                    "behind": ledger.position() - min(after.values()),
                }
            )
            # New events while it is down; it must take them up with the rest.
            add_donations(world, LATE_DONATIONS, f"LATE{len(kills)}")
            worker.start()
        wait_until(caught_up, START_TIMEOUT_S, "the worker catching up")
        # And a last gift while it runs, taken up live.
        world.donate("88.00", "noodles", receipt_no="LIVE-1")
        wait_until(caught_up, START_TIMEOUT_S, "the worker applying a live event")
        assert worker.alive(), worker.output()
    finally:
        exit_code = worker.stop()
    run_s = time.monotonic() - started
    assert exit_code == 0, worker.output()
    cut = sum(1 for k in kills if k["cut_open_batch"])
    assert cut > 0, f"no kill cut a batch in flight: {kills}"

    events = len(stored_events(ledger))
    leaves = views.view("log").query("SELECT count(*) AS n FROM {t}fl_log_leaves")[0]["n"]
    differing = views_differing_from_a_rebuild(ledger, views)
    assert not differing, f"views that differ from a rebuild: {differing}"
    log = Log(views.view("log"), origin=ORIGIN)
    assert check_store(ledger, log, Signer.generate(ORIGIN).verifier) == events

    record_figures(
        "worker",
        {
            "test": "tests/system/test_crash.py::"
            "test_a_projection_worker_killed_mid_batch_applies_everything_once",
            "seed": SEED + 1,
            "events": events,
            "views": len(views.specs),
            "kills": len(kills),
            "kills_cutting_an_open_batch": cut,
            "events_behind_at_kills": [k["behind"] for k in kills],
            "events_missing_from_the_log_view": events - int(leaves),
            "views_differing_from_rebuild": len(differing),
            "top_ups": top_ups[0],
            "run_s": round(run_s, 1),
        },
    )
