"""Run the benchmarks: start the servers on loopback, load them with wrk, write the results.

Every figure is printed beside its baseline from the same run, with the ratio, because timings
on a shared two-core machine only mean something relative to each other.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
ADMIN_URL = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
POOL_SIZE = 5


@dataclass(frozen=True)
class Scale:
    name: str
    post_s: int
    connections: int
    events: int
    get_s: int


SCALES = {
    "small": Scale("small", post_s=4, connections=64, events=10_000, get_s=2),
    "full": Scale("full", post_s=30, connections=64, events=1_000_000, get_s=15),
}


@dataclass
class Row:
    what: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_what: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


@dataclass
class Results:
    scale: str
    started_at: str
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


_STARTED: list[Server] = []


class Server:
    """A server process on loopback, stopped on exit."""

    def __init__(self, args: list[str], env: dict[str, str], probe: str, cwd: Path) -> None:
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*args, "--port", str(self.port)],
            env={**os.environ, **env},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _STARTED.append(self)
        _wait_up(self.base + probe, self.process)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else float("nan")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _uvicorn(factory: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
    ]


def wrk_post(base: str, seconds: int, connections: int, token: str, donor: str) -> dict[str, float]:
    script = ["-s", str(HERE / "post.lua"), base, "--", token, donor, f"r{time.time_ns()}"]
    return _wrk(connections, seconds, script)


def wrk_get(url: str, seconds: int, connections: int = 1) -> dict[str, float]:
    """Latency of one client (p99 is the target), then throughput with eight."""
    latency = _wrk(connections, seconds, [url])
    loaded = _wrk(8, seconds, [url])
    return latency | {"rps_8": loaded["rps"], "p99_ms_8": loaded["p99_ms"]}


def _wrk(connections: int, seconds: int, target: list[str]) -> dict[str, float]:
    """Run wrk (two threads, latency distribution) and read its figures."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            *target,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    return _figures(out)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _figures(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    return {
        "rps": rps,
        "errors": float(errors.group(1)) if errors else 0.0,
        "p99_ms": _ms(p99.group(1)) if p99 else float("nan"),
        "p50_ms": _ms(p50.group(1)) if p50 else float("nan"),
    }


def _timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        args,
        check=False,
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=7200,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return elapsed, done.stdout + done.stderr


def _view_wait_p99_s(metrics: str) -> float | None:
    buckets = [
        (float(le), int(n))
        for le, n in re.findall(
            r'fund_ledger_view_wait_seconds_bucket\{le="([\d.]+)"\} (\d+)', metrics
        )
    ]
    total = re.search(r"fund_ledger_view_wait_seconds_count (\d+)", metrics)
    if not buckets or not total or not int(total.group(1)):
        return None
    count = int(total.group(1))
    for le, n in sorted(buckets):
        if n >= 0.99 * count:
            return le
    return float("inf")


def machine() -> dict[str, Any]:
    with psycopg.connect(ADMIN_URL) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        fsync = conn.execute("SHOW fsync").fetchone()[0]  # type: ignore[index]
    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg,
        "fsync": fsync,
        "eventsourcing": version("eventsourcing"),
        "fastapi": version("fastapi"),
        "uvicorn": version("uvicorn"),
        "psycopg": version("psycopg"),
        "wrk": subprocess.run(
            ["wrk", "--version"], check=False, capture_output=True, text=True
        ).stdout.split("\n")[0],
    }


def run(scale: Scale, out_dir: Path) -> Results:
    results = Results(scale.name, datetime.now(UTC).isoformat(timespec="seconds"), machine())
    db = f"fl_bench_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    db_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    work = Path(tempfile.mkdtemp(prefix="fl-bench-"))
    try:
        _run(scale, results, db_url, work)
    finally:
        for server in _STARTED:  # also those a failed step left running
            server.stop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    write(results, out_dir)
    return results


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _run(scale: Scale, results: Results, db_url: str, work: Path) -> None:
    from ledger.app import OPERATOR, FundLedger

    add = results.rows.append
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ledger")
        conn.execute(
            "CREATE TABLE copy_donations (donor_id TEXT, amount_fen BIGINT,"
            " received_on DATE, channel TEXT, receipt_no TEXT UNIQUE)"
        )
        conn.execute(
            "CREATE TABLE pgbench_donations (id BIGSERIAL PRIMARY KEY, donor_id TEXT,"
            " amount_fen BIGINT, received_on DATE, channel TEXT)"
        )
    store_url = f"{db_url}?schema=ledger&pool_size={POOL_SIZE}"
    env = {
        "FUND_LEDGER_DATABASE_URL": store_url,
        "FUND_LEDGER_SIGNING_KEY_FILE": str(work / "signing.key"),
    }
    subprocess.run(
        [sys.executable, "-m", "fund_ledger", "keys", "init"],
        env={**os.environ, **env},
        cwd=work,
        check=True,
        capture_output=True,
    )
    ledger = FundLedger(store_url)
    ledger.establish_fund(OPERATOR, "bench fund")
    _, token = ledger.add_user(OPERATOR, "出纳", "treasurer")
    donor = ledger.register_donor(ledger.actor_named("出纳"), "某企业", "enterprise", "named").id
    ledger.close()

    _say("no-op ceiling")
    noop = Server(_uvicorn("bench.baselines:noop_app"), {}, "/docs", HERE.parent)
    ceiling = wrk_post(noop.base, scale.post_s, scale.connections, "", donor)
    noop.stop()
    _say("CRUD baseline")
    crud = Server(
        _uvicorn("bench.baselines:crud_app"),
        {"BENCH_DATABASE_URL": db_url, "BENCH_POOL_SIZE": str(POOL_SIZE)},
        "/docs",
        HERE.parent,
    )
    crud_post = wrk_post(crud.base, scale.post_s, scale.connections, "", donor)
    crud.stop()
    _say("pgbench")
    script = work / "insert.sql"
    script.write_text(
        "INSERT INTO pgbench_donations (donor_id, amount_fen, received_on, channel)"
        " VALUES ('d', 8800, '2026-11-20', 'wechat_pay');\n"
    )
    pgbench = subprocess.run(
        [
            "pgbench",
            "-n",
            "-c",
            str(scale.connections),
            "-j",
            "2",
            "-T",
            str(scale.post_s),
            "-f",
            str(script),
            db_url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pg_tps = float(re.search(r"tps = ([\d.]+)", pgbench).group(1))  # type: ignore[union-attr]

    _say("fund-ledger single-donation POSTs")
    server = Server(
        [sys.executable, "-m", "fund_ledger", "serve", "--host", "127.0.0.1"], env, "/healthz", work
    )
    ledger_post = wrk_post(server.base, scale.post_s, scale.connections, token, donor)
    with urllib.request.urlopen(server.base + "/metrics") as response:
        lag_p99_s = _view_wait_p99_s(response.read().decode())
    add(
        Row(
            "durable single-donation POSTs/s, 64 connections",
            ledger_post["rps"],
            "req/s",
            crud_post["rps"],
            "CRUD FastAPI INSERT+COMMIT per request",
            "≥ 1.5 × CRUD",
            ledger_post["rps"] >= 1.5 * crud_post["rps"],
            f"non-2xx: {ledger_post['errors']:.0f} (CRUD {crud_post['errors']:.0f}); p99 "
            f"{ledger_post['p99_ms']:.0f} ms vs {crud_post['p99_ms']:.0f} ms; pgbench INSERT "
            f"{pg_tps:.0f} tps; FastAPI no-op {ceiling['rps']:.0f} req/s",
        )
    )
    add(
        Row(
            "projection lag under that load, p99",
            lag_p99_s,
            "s",
            None,
            "",
            "≤ 1 s",
            lag_p99_s is not None and lag_p99_s <= 1.0,
            "time each write waited for the views to show it (histogram bucket bound)",
        )
    )
    small_gets = {path: wrk_get(server.base + path, scale.get_s) for path in ("/v1/summary", "/")}
    server.stop()

    _say(f"import of {scale.events} donations from CSV")
    csv_file = work / "donations.csv"
    with csv_file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["donor_id", "amount", "received_on", "channel", "receipt_no"])
        for i in range(scale.events):
            writer.writerow(
                [donor, f"{10 + i % 990}.{i % 100:02d}", "2026-11-20", "wechat_pay", f"B{i}"]
            )
    import_s, _ = _timed(
        [sys.executable, "-m", "fund_ledger", "import", "donations", str(csv_file), "--as", "出纳"],
        env,
        work,
    )
    copy_started = time.perf_counter()
    with (
        psycopg.connect(db_url) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY copy_donations (donor_id, amount_fen, received_on, channel, receipt_no)"
            " FROM STDIN"
        ) as copy,
    ):
        for i in range(scale.events):
            copy.write_row((donor, 1000 + i % 99000, date(2026, 11, 20), "wechat_pay", f"B{i}"))
    copy_s = time.perf_counter() - copy_started
    add(
        Row(
            f"import of {scale.events:,} donations from CSV",
            scale.events / import_s,
            "rows/s",
            scale.events / copy_s,
            "raw COPY of the same rows",
            "≤ 60 s for 1,000,000 and ≥ 0.25 × COPY",
            scale.events / import_s >= 0.25 * scale.events / copy_s
            and import_s * 1_000_000 / scale.events <= 60,
            f"{import_s:.1f} s (COPY {copy_s:.1f} s)",
        )
    )

    _say("rebuild of every view")
    events = scale.events + 6
    rebuild_s, _ = _timed(
        [sys.executable, "-m", "fund_ledger", "projections", "rebuild", "--jobs", "2"], env, work
    )
    add(
        Row(
            f"rebuild of every view from {events:,} events",
            events / rebuild_s,
            "events/s",
            None,
            "",
            "≥ 20,000 events/s",
            events / rebuild_s >= 20_000,
            f"{rebuild_s:.1f} s, four views, two processes (--jobs 2)",
        )
    )

    _say("audit bundle and verify")
    bundle = work / "bundle"
    _timed([sys.executable, "-m", "fund_ledger", "export", "audit-bundle", str(bundle)], env, work)
    verify_s, verify_out = _timed(
        [
            "/usr/bin/time",
            "-v",
            sys.executable,
            "-m",
            "fund_ledger",
            "verify",
            "--bundle",
            str(bundle),
        ],
        env,
        work,
    )
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", verify_out)
    verify_mb = int(rss.group(1)) / 1024 if rss else float("nan")
    add(
        Row(
            f"verify of a {events:,}-entry bundle",
            verify_s,
            "s",
            None,
            "",
            "≤ 30 s and ≤ 150 MB for 1,000,000",
            verify_s * 1_000_000 / events <= 30 and verify_mb <= 150,
            f"peak memory {verify_mb:.0f} MB",
        )
    )

    _say("reads at scale")
    server = Server(
        [sys.executable, "-m", "fund_ledger", "serve", "--host", "127.0.0.1"], env, "/healthz", work
    )
    for path, target_ms in (("/v1/summary", 10), ("/", 50)):
        big = wrk_get(server.base + path, scale.get_s)
        add(
            Row(
                f"GET {path} p99 at {events:,} events",
                big["p99_ms"],
                "ms",
                small_gets[path]["p99_ms"],
                "p99 at the start (a handful of events), one client",
                f"≤ {target_ms} ms, same as small",
                big["p99_ms"] <= target_ms,
                f"one client: p50 {big['p50_ms']:.1f} ms, {big['rps']:.0f} req/s; "
                f"8 clients: {big['rps_8']:.0f} req/s, p99 {big['p99_ms_8']:.0f} ms "
                f"(at the start {small_gets[path]['rps_8']:.0f} req/s, "
                f"p99 {small_gets[path]['p99_ms_8']:.0f} ms)",
            )
        )
    rss_mb = server.rss_mb()
    server.stop()
    add(
        Row(
            f"server memory at {events:,} events",
            rss_mb,
            "MB",
            None,
            "",
            "≤ 300 MB resident",
            rss_mb <= 300,
        )
    )


def write(results: Results, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(
        json.dumps(
            {**asdict(results), "rows": [asdict(r) | {"ratio": r.ratio} for r in results.rows]},
            ensure_ascii=False,
            indent=2,
        )
    )
    lines = [
        f"# Benchmark results ({results.scale} scale, {results.started_at})",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in results.machine.items()),
        "",
        "| what | measured | baseline (same run) | ratio | target | met | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results.rows:
        value = "n/a" if r.value is None else f"{r.value:,.2f} {r.unit}"
        base = f"{r.baseline:,.2f} ({r.baseline_what})" if r.baseline else "—"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[r.met]
        lines.append(f"| {r.what} | {value} | {base} | {ratio} | {r.target} | {met} | {r.note} |")
    missed = [r.what for r in results.rows if r.met is False]
    if missed:
        lines += [
            "",
            f"Missed: {'; '.join(missed)}. Where the time goes, with the profiles (pyinstrument,"
            " py-spy) that show it: docs/performance.md.",
        ]
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE,
        help="folder for results.md and results.json (default: bench/)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is needed: apt-get install wrk")
    results = run(SCALES[args.scale], args.out)
    print((args.out / "results.md").read_text())
    del results
