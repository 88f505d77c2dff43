"""A crash of the projection worker: `fund-ledger projections run` killed with SIGKILL mid-batch,
then restarted.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

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

from ledger.log.notes import Signer
from projections.audit import check_store
from projections.log.queries import Log
from projections.runner import Views

pytestmark = pytest.mark.postgres


# The worker: events stored before it starts, and more added while it restarts.
BACKLOG_DONATIONS = 3000
LATE_DONATIONS = 300


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


def _backlog(world: World) -> None:
    """Grants and expenses as well as gifts, so every view has several kinds of rows to write."""
    add_donations(world, BACKLOG_DONATIONS, "BK")
    for project in ("noodles", "health", "barber"):
        grant = world.grant(project, "20000.00")
        world.spend(grant, "1234.56")
        world.spend(grant, "99.01", category="management")


@dataclass
class Worker:
    """The worker's process, and the views' positions as the test reads them from the store."""

    process: Process
    world: World
    views: Views
    top_ups: int = 0

    def positions(self) -> dict[str, int]:
        return {spec.name: self.views.position(spec.name) for spec in self.views.specs}

    def caught_up(self) -> bool:
        return all(p == self.world.app.position() for p in self.positions().values())

    def moved(self, since: dict[str, int]) -> bool:
        return self.positions() != since

    def top_up(self) -> None:
        """More work for a worker that finished before the moment came to kill it."""
        if self.caught_up():
            self.top_ups += 1
            add_donations(self.world, LATE_DONATIONS, f"MORE{self.top_ups}")


def _kill_and_restart(
    worker: Worker, admin: psycopg.Connection[Any], app_name: str, rng: random.Random
) -> list[dict[str, Any]]:
    """KILLS times: kill the worker while it applies events, add events, start it again."""
    ledger = worker.world.app
    kills: list[dict[str, Any]] = []
    for _ in range(KILLS):
        before = worker.positions()
        # Once it is applying (some view moved), wait a random moment; then kill it the
        # instant a batch has written rows and not committed them, or (the second time)
        # right there, whatever it is doing.
        wait_until(partial(worker.moved, before), START_TIMEOUT_S, "the worker applying events")
        time.sleep(rng.uniform(0.0, 1.0))
        at_kill, batch_open = kill_worker(
            worker.process,
            admin,
            app_name,
            worker.positions,
            None if len(kills) == 1 else worker.top_up,
        )
        time.sleep(0.1)  # a COMMIT the database had already received may still land
        after = worker.positions()
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
        add_donations(worker.world, LATE_DONATIONS, f"LATE{len(kills)}")
        worker.process.start()
    return kills


def test_a_projection_worker_killed_mid_batch_applies_everything_once(
    world: World, postgres_url: str, admin: psycopg.Connection[Any], tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    ledger = world.app
    app_name = f"crash-worker-{uuid.uuid4().hex[:8]}"
    _backlog(world)
    views = Views(ledger)
    worker = Worker(
        Process(
            ["projections", "run", "--poll-interval", "0.1"],
            {"FUND_LEDGER_DATABASE_URL": postgres_url, "PGAPPNAME": app_name},
            tmp_path,
        ),
        world,
        views,
    )

    started = time.monotonic()
    worker.process.start()
    try:
        kills = _kill_and_restart(worker, admin, app_name, rng)
        wait_until(worker.caught_up, START_TIMEOUT_S, "the worker catching up")
        # And a last gift while it runs, taken up live.
        world.donate("88.00", "noodles", receipt_no="LIVE-1")
        wait_until(worker.caught_up, START_TIMEOUT_S, "the worker applying a live event")
        assert worker.process.alive(), worker.process.output()
    finally:
        exit_code = worker.process.stop()
    run_s = time.monotonic() - started
    assert exit_code == 0, worker.process.output()
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
            "test": "tests/system/test_crash_worker.py::"
            "test_a_projection_worker_killed_mid_batch_applies_everything_once",
            "seed": SEED + 1,
            "events": events,
            "views": len(views.specs),
            "kills": len(kills),
            "kills_cutting_an_open_batch": cut,
            "events_behind_at_kills": [k["behind"] for k in kills],
            "events_missing_from_the_log_view": events - int(leaves),
            "views_differing_from_rebuild": len(differing),
            "top_ups": worker.top_ups,
            "run_s": round(run_s, 1),
        },
    )
