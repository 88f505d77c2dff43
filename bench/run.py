"""Run the benchmarks: start the servers on loopback, load them with wrk, write the results.

Every figure is printed beside its baseline from the same run, with the ratio, because timings
on a shared two-core machine only mean something relative to each other. The measurements
are in ``steps``; the servers and commands in ``processes``; wrk in ``load``; the tables in
``report``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.funds import many_funds
from bench.meals import import_meals
from bench.processes import STARTED
from bench.report import Results, machine, write
from bench.steps import STEPS, Bench, Scale

HERE = Path(__file__).resolve().parent
ADMIN_URL = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")

SCALES = {
    "small": Scale("small", post_s=4, connections=64, events=10_000, get_s=2),
    "full": Scale("full", post_s=30, connections=64, events=1_000_000, get_s=15),
}


def run(scale: Scale, out_dir: Path) -> Results:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    results = Results(scale.name, started_at, machine(ADMIN_URL))
    db = f"fl_bench_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    work = Path(tempfile.mkdtemp(prefix="fl-bench-"))
    bench = Bench(scale, results, ADMIN_URL.rsplit("/", 1)[0] + "/" + db, work)
    try:
        # 200 funds take minutes to set up: the district is measured at full scale only.
        district = (many_funds,) if scale.name == "full" else ()
        for step in (*STEPS, import_meals, *district):
            step(bench)
    finally:
        for server in STARTED:  # also those a failed step left running
            server.stop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    write(results, out_dir)
    return results


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
    run(SCALES[args.scale], args.out)
    print((args.out / "results.md").read_text())
