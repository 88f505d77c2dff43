"""Many funds on one server: 200 funds (a schema each, a few thousand gifts each) on one
PostgreSQL, served together by ``fund-ledger district serve``.

Measured: the connections held (pg_stat_activity, peak and steady), the server's RSS, the time
to open a fund cold (p50/p99, as the district times it and as a caller waits for it), and
requests/s across funds, hot (funds that stay open) and spread (a fund opened per request).
Runnable alone: ``python -m bench.funds [--funds 200] [--gifts 3000]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.processes import Server, fund_ledger
from bench.report import Results, Row
from bench.steps import Bench, Scale, say

FUNDS = 200
GIFTS = 3_000
OPEN_MAX = 16
POOL_MAX = 3
LOAD_S = float(os.environ.get("BENCH_FUNDS_LOAD_S", "10"))
CLIENTS = 8
# Funds that share the hot load: fewer than OPEN_MAX, so they stay open.
HOT_FUNDS = 12
# The district closes a fund idle this long (300 s by default; shorter here to see it) ...
IDLE_CLOSE_S = 20
# ... checking every 5 s: after this long without requests, no fund is open.
SETTLE_S = float(os.environ.get("BENCH_FUNDS_SETTLE_S", "30"))
# After the load, the funds still open but idle.
PAUSE_S = 3.0
SAMPLE_S = 0.1


@dataclass
class Fund:
    name: str
    token: str
    donor: str


@dataclass
class Sampler:
    """Connections held in the bench's database and the server's RSS, sampled in a thread."""

    db_url: str
    server: Server
    connections: list[int] = field(default_factory=list)
    # What the district says its pools hold (/healthz): pg_stat_activity also shows, for a
    # moment, the backend of a connection a closed fund has just closed.
    pooled: list[int] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            while not self._stop.is_set():
                self.connections.append(held(conn))
                self.rss_mb.append(self.server.rss_mb())
                with urllib.request.urlopen(self.server.base + "/healthz") as response:
                    self.pooled.append(json.loads(response.read())["connections_held"])
                self._stop.wait(SAMPLE_S)


def held(conn: psycopg.Connection[Any]) -> int:
    """Connections to this database other than the one asking."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchone()
    return int(row[0]) if row else 0


def _gifts(donor: str, count: int, fund: int) -> list[dict[str, object]]:
    return [
        {
            "donor_id": donor,
            "amount_fen": 100 + (i * 37 + fund) % 100_000,
            "received_on": date(2026, 1 + i % 10, 1 + i % 28),
            "channel": ("wechat_pay", "bank_transfer", "cash")[i % 3],
            "receipt_no": f"F{fund:03d}-{i:06d}",
            "project_id": None,
            "note": None,
        }
        for i in range(count)
    ]


def _set_up(b: Bench, funds: int, gifts: int, keys: Path) -> list[Fund]:
    """Each fund in its schema: established, a treasurer and a donor, its gifts imported with
    the bulk path, its views caught up and its log signed, as a fund that has been running."""
    from ledger.app import OPERATOR, FundLedger
    from ledger.log.notes import Signer
    from projections.log.queries import Log
    from projections.runner import BATCH_SIZE_MAX, Views

    made = []
    with psycopg.connect(b.db_url, autocommit=True) as conn:
        for i in range(funds):
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "fund_{i:03d}"')
    for i in range(funds):
        name = f"fund_{i:03d}"
        ledger = FundLedger(f"{b.db_url}?schema={name}&pool_size=1&max_overflow=1")
        try:
            ledger.establish_fund(OPERATOR, f"第{i}号社区基金", on=date(2026, 1, 1))
            _, token = ledger.add_user(OPERATOR, "出纳", "treasurer", on=date(2026, 1, 1))
            treasurer = ledger.actor_named("出纳")
            donor = ledger.register_donor(
                treasurer, "某企业", "enterprise", "named", on=date(2026, 1, 1)
            ).id
            ledger.import_donations(treasurer, iter(_gifts(str(donor), gifts, i)))
            views = Views(ledger)
            views.catch_up(BATCH_SIZE_MAX)
            signer = Signer.generate(f"district.example/{name}")
            (keys / f"{name}.key").write_text(signer.encode())
            Log(views.view("log"), origin=signer.name).sign(signer)
        finally:
            ledger.close()
        made.append(Fund(name, token, str(donor)))
        if i % 20 == 19:
            say(f"  {i + 1} funds set up")
    return made


def _call(base: str, method: str, path: str, body: Any = None, token: str = "") -> float:
    """One request; its time in seconds. A refusal is an error: the bench must not count it."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Idempotency-Key", f"bench-{random.getrandbits(64):x}")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return time.perf_counter() - started


def _donate(base: str, fund: Fund, serial: int) -> float:
    body = {
        "donor_id": fund.donor,
        "amount": "10.00",
        "received_on": "2026-11-02",
        "channel": "cash",
        "receipt_no": f"W-{fund.name}-{serial}-{random.getrandbits(32):x}",
    }
    return _call(base, "POST", f"/f/{fund.name}/v1/donations", body, fund.token)


def _load(seconds: float, clients: int, one: Callable[[random.Random], None]) -> dict[str, float]:
    """``clients`` threads each calling ``one`` for ``seconds``: requests/s and errors."""
    done = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        rng = random.Random(k)  # noqa: S311 - a repeatable spread of funds
        while time.monotonic() < stop:
            try:
                one(rng)
                done[k] += 1
            except (urllib.error.URLError, OSError):
                errors[k] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"rps": sum(done) / elapsed, "errors": float(sum(errors))}


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def many_funds(b: Bench, funds: int = FUNDS, gifts: int = GIFTS) -> None:
    say(f"many funds: {funds} funds of {gifts:,} gifts on one PostgreSQL")
    env = {k: v for k, v in b.env.items() if k != "FUND_LEDGER_DATABASE_URL"}
    if "FUND_LEDGER_KEK_FILE" in b.env:  # the whole bench's key-encryption key
        os.environ.setdefault("FUND_LEDGER_KEK_FILE", b.env["FUND_LEDGER_KEK_FILE"])
    else:  # run alone: a key for this run, which the server inherits
        os.environ.setdefault("FUND_LEDGER_KEK", base64.b64encode(os.urandom(32)).decode())
    keys = b.work / "district-keys"
    keys.mkdir(exist_ok=True)
    started = time.perf_counter()
    made = _set_up(b, funds, gifts, keys)
    say(f"  set up in {time.perf_counter() - started:.0f} s")
    with psycopg.connect(b.db_url, autocommit=True) as conn:
        before = held(conn)
    command = fund_ledger(
        "district",
        "serve",
        b.db_url,
        "--keys",
        str(keys),
        "--open-max",
        str(OPEN_MAX),
        "--pool-max",
        str(POOL_MAX),
        "--idle-close-s",
        str(IDLE_CLOSE_S),
    )
    server = Server(command, env, "/healthz", b.work)
    try:
        rss_empty_mb = server.rss_mb()
        with Sampler(b.db_url, server) as sampler:
            say("  every fund once: its summary (cold), then a donation (warm)")
            cold_s, warm_s = [], []
            for serial, fund in enumerate(made):
                cold_s.append(_call(server.base, "GET", f"/f/{fund.name}/v1/summary"))
                warm_s.append(_donate(server.base, fund, serial))
            with urllib.request.urlopen(server.base + "/healthz") as response:
                district = json.loads(response.read())
            rss_open_mb = server.rss_mb()
            say("  hot: requests across funds that stay open")
            hot_funds = made[:HOT_FUNDS]
            for fund in hot_funds:  # opened before the clock starts: this is the warm figure
                _call(server.base, "GET", f"/f/{fund.name}/v1/summary")

            def hot(rng: random.Random) -> None:
                fund = rng.choice(hot_funds)
                if rng.random() < 0.2:
                    _donate(server.base, fund, rng.getrandbits(30))
                else:
                    _call(server.base, "GET", f"/f/{fund.name}/v1/summary")

            hot_load = _load(LOAD_S, CLIENTS, hot)
            hot_samples = len(sampler.connections)
            say("  spread: summaries of any of the funds (most requests open one)")

            def spread(rng: random.Random) -> None:
                _call(server.base, "GET", f"/f/{rng.choice(made).name}/v1/summary")

            spread_load = _load(LOAD_S, CLIENTS, spread)
            load_samples = sampler.connections[hot_samples:]
            time.sleep(PAUSE_S)
            open_idle = sampler.connections[-1]
            say(f"  settling {SETTLE_S:.0f} s: idle funds close")
            time.sleep(SETTLE_S)
            closed_idle = sampler.connections[-1]
        rss_peak_mb = max(sampler.rss_mb)
        peak = max(sampler.connections) - before
    finally:
        server.stop()
    with psycopg.connect(b.db_url, autocommit=True) as conn:
        deadline = time.monotonic() + 5
        while held(conn) > before and time.monotonic() < deadline:
            time.sleep(0.1)
        left = held(conn) - before
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    per_fund_mb = (rss_open_mb - rss_empty_mb) / OPEN_MAX
    bound = OPEN_MAX * POOL_MAX
    b.add(
        Row(
            f"district: connections held, {funds} funds served, peak",
            peak,
            "connections",
            bound,
            f"the bound: {OPEN_MAX} open funds × pool of {POOL_MAX}",
            "< 100 (PostgreSQL's default), the district's count within the bound",
            peak < 100 and max(sampler.pooled) <= bound and left <= 0,
            f"the district's own count, peak {max(sampler.pooled)}; "
            f"steady under load (median) {statistics.median(load_samples) - before:.0f}; "
            f"{OPEN_MAX} funds open and idle {open_idle - before}; every fund closed after "
            f"{IDLE_CLOSE_S} s idle {closed_idle - before}; after the server stopped {left}",
        )
    )
    b.add(
        Row(
            "district: server RSS with 16 funds open",
            rss_open_mb,
            "MB",
            rss_empty_mb,
            "the district with no fund open",
            "",
            None,
            f"{per_fund_mb:.1f} MB per open fund; peak {rss_peak_mb:.0f} MB",
        )
    )
    b.add(
        Row(
            "district: time to open a fund cold, p50",
            district["open_s_p50"],
            "s",
            None,
            "",
            "",
            None,
            f"p99 {district['open_s_p99']:.3f} s (as the district times it, {district['opens']} "
            f"opens, closing the least recently used); a caller's first summary p50 "
            f"{statistics.median(cold_s):.3f} s, p99 {_p(cold_s, 0.99):.3f} s; closing one "
            f"p50 {district['close_s_p50']:.3f} s, p99 {district['close_s_p99']:.3f} s; its first "
            f"donation then p50 {statistics.median(warm_s):.3f} s; {load}",
        )
    )
    b.add(
        Row(
            f"district: requests/s across {HOT_FUNDS} open funds, {CLIENTS} clients",
            hot_load["rps"],
            "req/s",
            spread_load["rps"],
            f"summaries spread over all {funds} funds (a fund opened per request)",
            "",
            None,
            f"one request in five a donation; errors {hot_load['errors']:.0f} and "
            f"{spread_load['errors']:.0f}; Python clients on the same two cores; {load}",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.funds", description=__doc__)
    parser.add_argument("--funds", type=int, default=FUNDS)
    parser.add_argument("--gifts", type=int, default=GIFTS)
    args = parser.parse_args()
    admin = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    db = f"fl_funds_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    work = Path(tempfile.mkdtemp(prefix="fl-funds-"))
    scale = Scale("funds", post_s=0, connections=0, events=0, get_s=0)
    results = Results("funds", datetime.now(UTC).isoformat(timespec="seconds"), {})
    bench = Bench(scale, results, admin.rsplit("/", 1)[0] + "/" + db, work)
    try:
        many_funds(bench, args.funds, args.gifts)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    for row in results.rows:
        value = "—" if row.value is None else f"{row.value:,.3f}".rstrip("0").rstrip(".")
        baseline = "" if row.baseline is None else f" (vs {row.baseline:,.2f}: {row.baseline_what})"
        print(f"{row.what}: {value} {row.unit}{baseline}\n    {row.note}")


if __name__ == "__main__":
    main()
