"""The service's counters, and their exposition in Prometheus' text format."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger.service.batching import GroupStats
from projections.runner import ViewStatus

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    """Counters for Prometheus' text format; small enough not to need a library."""

    requests: defaultdict[tuple[str, str, int], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    latency_buckets: defaultdict[tuple[str, float], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    latency_sum_s: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    latency_count: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    view_wait_buckets: defaultdict[float, int] = field(default_factory=lambda: defaultdict(int))
    view_wait_count: int = 0
    view_wait_sum_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe_view_wait(self, seconds: float) -> None:
        with self.lock:
            self.view_wait_count += 1
            self.view_wait_sum_s += seconds
            for bucket in LATENCY_BUCKETS_S:
                if seconds <= bucket:
                    self.view_wait_buckets[bucket] += 1

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(method, route, status)] += 1
            self.latency_sum_s[route] += seconds
            self.latency_count[route] += 1
            for bucket in LATENCY_BUCKETS_S:
                if seconds <= bucket:
                    self.latency_buckets[(route, bucket)] += 1


def exposition(m: Metrics, stats: GroupStats | None, statuses: Sequence[ViewStatus] | None) -> str:
    """The metrics as Prometheus text; ``statuses`` None when the store did not answer."""
    with m.lock:
        lines = [*_requests(m), *_view_waits(m)]
    if stats is not None:
        lines += _group_commits(stats)
    lines += _store(statuses)
    return "\n".join(lines) + "\n"


def _requests(m: Metrics) -> list[str]:
    lines = [
        "# HELP fund_ledger_requests_total HTTP requests by method, route and status.",
        "# TYPE fund_ledger_requests_total counter",
    ]
    for (method, route, status), count in sorted(m.requests.items()):
        lines.append(
            f'fund_ledger_requests_total{{method="{method}",route="{route}",'
            f'status="{status}"}} {count}'
        )
    lines += [
        "# HELP fund_ledger_request_seconds Request latency.",
        "# TYPE fund_ledger_request_seconds histogram",
    ]
    for route in sorted(m.latency_count):
        for bucket in LATENCY_BUCKETS_S:
            lines.append(
                f'fund_ledger_request_seconds_bucket{{route="{route}",le="{bucket}"}} '
                f"{m.latency_buckets[(route, bucket)]}"
            )
        lines.append(
            f'fund_ledger_request_seconds_bucket{{route="{route}",le="+Inf"}} '
            f"{m.latency_count[route]}"
        )
        lines.append(
            f'fund_ledger_request_seconds_sum{{route="{route}"}} {m.latency_sum_s[route]:.6f}'
        )
        lines.append(
            f'fund_ledger_request_seconds_count{{route="{route}"}} {m.latency_count[route]}'
        )
    return lines


def _view_waits(m: Metrics) -> list[str]:
    return [
        "# HELP fund_ledger_view_wait_seconds How long writes waited for the views"
        " to show them (the projection lag each write saw).",
        "# TYPE fund_ledger_view_wait_seconds histogram",
        *(
            f'fund_ledger_view_wait_seconds_bucket{{le="{b}"}} {m.view_wait_buckets[b]}'
            for b in LATENCY_BUCKETS_S
        ),
        f'fund_ledger_view_wait_seconds_bucket{{le="+Inf"}} {m.view_wait_count}',
        f"fund_ledger_view_wait_seconds_sum {m.view_wait_sum_s:.6f}",
        f"fund_ledger_view_wait_seconds_count {m.view_wait_count}",
    ]


def _group_commits(stats: GroupStats) -> list[str]:
    with stats.lock:
        return [
            "# HELP fund_ledger_group_commit_batches_total Transactions that saved single"
            " donations (a group commit each).",
            "# TYPE fund_ledger_group_commit_batches_total counter",
            f"fund_ledger_group_commit_batches_total {stats.batches}",
            "# HELP fund_ledger_group_commit_commands_total Single donations run in them.",
            "# TYPE fund_ledger_group_commit_commands_total counter",
            f"fund_ledger_group_commit_commands_total {stats.commands}",
            "# HELP fund_ledger_group_commit_batch_size_largest The most in one batch.",
            "# TYPE fund_ledger_group_commit_batch_size_largest gauge",
            f"fund_ledger_group_commit_batch_size_largest {stats.batch_size_largest}",
        ]


def _store(statuses: Sequence[ViewStatus] | None) -> list[str]:
    lines = [
        "# HELP fund_ledger_store_up Whether the store answered the last probe in time.",
        "# TYPE fund_ledger_store_up gauge",
        f"fund_ledger_store_up {int(statuses is not None)}",
    ]
    if statuses is not None:
        lines += [
            "# HELP fund_ledger_events_written Events in the log.",
            "# TYPE fund_ledger_events_written gauge",
            f"fund_ledger_events_written {statuses[0].log_position if statuses else 0}",
            "# HELP fund_ledger_projection_lag Events not yet applied, per view.",
            "# TYPE fund_ledger_projection_lag gauge",
            *(f'fund_ledger_projection_lag{{view="{s.name}"}} {s.lag}' for s in statuses),
        ]
    return lines
