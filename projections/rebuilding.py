"""Rebuilding the views in several processes at once, one group of views each.

A rebuild is Python work (decoding events, computing rows and leaves) more than database work,
and one process uses one core. The log view costs about as much as the other three together,
so on two cores it gets a process of its own. Each process reads the log itself and owns its
views' tables and tracking rows; nothing is shared but the database. SQLite allows one writer
at a time, so there the views are rebuilt in this process.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from typing import Any

from projections.runner import VIEWS

# Views grouped by cost, heaviest alone: the log hashes and stores a leaf and its tree nodes
# for every event.
GROUPS: tuple[tuple[str, ...], ...] = (("log",), ("books", "registers", "monthly", "canteen"))
JOIN_TIMEOUT_S = 30.0


def groups_for(names: Sequence[str], jobs: int) -> list[list[str]]:
    """The views split into at most ``jobs`` groups, by GROUPS where it fits."""
    if jobs <= 1 or len(names) <= 1:
        return [list(names)]
    groups = [[n for n in group if n in names] for group in GROUPS]
    groups = [g for g in groups if g]
    rest = [n for n in names if not any(n in g for g in groups)]
    if rest:
        groups.append(rest)
    while len(groups) > jobs:
        smallest = groups.pop()
        groups[-1].extend(smallest)
    return groups


def _rebuild_group(database_url: str, names: list[str], events: Any) -> None:
    """In a worker process: rebuild these views and report progress on the queue."""
    from ledger.app import FundLedger
    from projections.runner import Views

    ledger = None
    try:
        ledger = FundLedger(database_url)
        views = Views(ledger, names)
        views.rebuild(progress=lambda name, n: events.put(("progress", name, n)))
        events.put(("done", ",".join(names), 0))
    except Exception as error:  # reported to the parent, which fails the rebuild
        events.put(("failed", ",".join(names), f"{type(error).__name__}: {error}"))
        raise
    finally:
        if ledger is not None:
            ledger.close()


class RebuildFailed(RuntimeError):
    """A worker could not rebuild its views; the others may have finished theirs."""


def rebuild_in_processes(
    database_url: str,
    groups: list[list[str]],
    progress: Callable[[str, int], None],
) -> None:
    """Rebuild each group of views in its own process; raise if any of them fails."""
    unknown = [n for g in groups for n in g if n not in VIEWS]
    if unknown:
        raise KeyError(f"no view {', '.join(unknown)}")
    context = multiprocessing.get_context("spawn")  # no pools or threads inherited
    events = context.Queue()
    workers = [
        context.Process(target=_rebuild_group, args=(database_url, group, events), daemon=True)
        for group in groups
    ]
    for worker in workers:
        worker.start()
    failures: list[str] = []
    running = len(workers)
    try:
        while running:
            try:
                kind, name, detail = events.get(timeout=1.0)
            except queue.Empty:
                if all(not w.is_alive() for w in workers):
                    break  # a worker died without a word (killed): found below
                continue
            if kind == "progress":
                progress(name, int(detail))
            else:
                running -= 1
                if kind == "failed":
                    failures.append(f"{name}: {detail}")
    finally:
        for worker in workers:
            worker.join(JOIN_TIMEOUT_S)
            if worker.is_alive():
                worker.terminate()
    died = [w for w in workers if w.exitcode not in (0, None)]
    if failures or died:
        raise RebuildFailed("; ".join(failures) or f"{len(died)} worker(s) exited abnormally")
