"""What the crash tests share: a fund-ledger command in its own process, killed with SIGKILL and
started again on the same store, and the checks made afterwards.

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
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import snapshot

from ledger.app import FundLedger
from ledger.domain.money import parse_yuan
from projections.reader import Reader
from projections.runner import Views

ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = ROOT / "build" / "reliability" / "crash.json"
SEED = int(os.environ.get("FUND_LEDGER_CRASH_SEED", "8001"))
KILLS = 3
ORIGIN = "fund-ledger.test/crash"


START_TIMEOUT_S = 30.0


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
