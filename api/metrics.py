"""The service's metrics, kept and exposed by ``prometheus-client`` with every label bounded.

Each app has a registry of its own (tests make many apps in one process). A label only takes
values from a known set: the method from the HTTP methods the API serves (anything else is
``other``), the route from the app's route templates (``unmatched`` for any other path), the
status from the answers the app gives; so no request can add a series of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ledger.service.batching import GroupStats
from projections.runner import ViewStatus

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"
# The text format's content type, as prometheus-client writes it.
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST

# A "_created" series per label set doubles the series and says nothing a scraper needs.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]


def bounded_method(method: str) -> str:
    return method if method in METHODS else OTHER


class Metrics:
    """Requests counted and timed by route, and how long writes waited for the views."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fund_ledger_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fund_ledger_request_seconds",
            "Request latency.",
            ["route"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.view_wait = Histogram(
            "fund_ledger_view_wait_seconds",
            "How long until the views showed each write (the projection lag it saw): the"
            " time its answer waited for them, or, for a gift answered once durable, the time"
            " from its answer.",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )

        self.view_wait_timeouts = Counter(
            "fund_ledger_view_wait_timeouts",
            "Requests that waited for the views to show the gifts answered before them past"
            " the bound (read_your_writes_wait_s), and were answered as the views stood.",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """``route`` is a route template or ``unmatched``, never a path as typed."""
        self.requests.labels(bounded_method(method), route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_view_wait(self, seconds: float) -> None:
        self.view_wait.observe(seconds)


class _State(Collector):
    """What is read at the moment of a scrape: group commits, and the store and its views."""

    def __init__(self, stats: GroupStats | None, statuses: Sequence[ViewStatus] | None) -> None:
        self.stats = stats
        self.statuses = statuses

    def collect(self) -> Iterator[Metric]:
        if self.stats is not None:
            with self.stats.lock:
                batches, commands = self.stats.batches, self.stats.commands
                largest = self.stats.batch_size_largest
            yield CounterMetricFamily(
                "fund_ledger_group_commit_batches",
                "Transactions that saved single donations (a group commit each).",
                value=batches,
            )
            yield CounterMetricFamily(
                "fund_ledger_group_commit_commands", "Single donations run in them.", value=commands
            )
            yield GaugeMetricFamily(
                "fund_ledger_group_commit_batch_size_largest", "The most in one batch.", largest
            )
        yield GaugeMetricFamily(
            "fund_ledger_store_up",
            "Whether the store answered the last probe in time.",
            int(self.statuses is not None),
        )
        if self.statuses is None:
            return
        yield GaugeMetricFamily(
            "fund_ledger_events_written",
            "Events in the log.",
            self.statuses[0].log_position if self.statuses else 0,
        )
        lag = GaugeMetricFamily(
            "fund_ledger_projection_lag", "Events not yet applied, per view.", labels=["view"]
        )
        for status in self.statuses:
            lag.add_metric([status.name], status.lag)
        yield lag


def exposition(
    metrics: Metrics, stats: GroupStats | None, statuses: Sequence[ViewStatus] | None
) -> bytes:
    """The metrics as Prometheus text; ``statuses`` None when the store did not answer."""
    state = CollectorRegistry()
    state.register(_State(stats, statuses))
    return generate_latest(metrics.registry) + generate_latest(state)
