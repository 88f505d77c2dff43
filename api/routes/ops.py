"""Operations: health, metrics, and the pages that problem types point to."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import ServicesDep
from api.problems import RETRY_AFTER_S, problem
from api.services import LATENCY_BUCKETS_S
from ledger.domain import errors

router = APIRouter(tags=["operations 运维"])


@router.get("/healthz", summary="Is the store reachable, and how far behind are the views?")
async def healthz(services: ServicesDep) -> JSONResponse:
    # async, and no worker thread while it waits: it answers even when every worker is stuck.
    runner = services.runner
    try:
        statuses = await services.store_status_async()
    except Exception as error:  # any failure to reach the store in time is the answer here
        return problem(
            503,
            "store-unavailable",
            f"the store cannot be reached ({type(error).__name__})",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            store="down",
            listening=runner.listening,
        )
    runner_error = runner.error or runner.listen_error
    return JSONResponse(
        {
            "status": "ok" if runner_error is None else "degraded",
            "store": "up",
            "log_position": statuses[0].log_position if statuses else 0,
            "views": {s.name: {"position": s.position, "lag": s.lag} for s in statuses},
            "runner_error": None if runner.error is None else type(runner.error).__name__,
            # False while the live runner's subscription is down: views then lag by a poll.
            "listening": runner.listening,
            "listen_error": (
                None if runner.listen_error is None else type(runner.listen_error).__name__
            ),
        }
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(services: ServicesDep) -> str:
    m = services.metrics
    lines = [
        "# HELP fund_ledger_requests_total HTTP requests by method, route and status.",
        "# TYPE fund_ledger_requests_total counter",
    ]
    with m.lock:
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
        lines += [
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
    if services.donations is not None:
        stats = services.donations.stats
        with stats.lock:
            lines += [
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
    try:
        statuses = services.store_status()
    except Exception:  # the store is down: the metrics say so instead of waiting for it
        statuses = None
    lines += [
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
    return "\n".join(lines) + "\n"


def _problem_types() -> dict[str, str]:
    found: dict[str, str] = {
        "invalid-input": "Invalid input",
        "bad-token": "The token is unknown, revoked or malformed",
        "token-required": "A token is required",
        "store-unavailable": "The ledger's database cannot be reached",
        "not-found": "Not found",
        "body-too-large": "The request body is larger than allowed",
        "internal-error": "A fault in the service; it is logged without the request's data",
    }
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.LedgerError):
            found[value.code] = value.title
    return found


@router.get("/problems/{code}", summary="What a problem type means")
def problem_type(code: str) -> JSONResponse:
    titles = _problem_types()
    if code not in titles:
        return problem(404, "not-found", f"no problem type {code}")
    return JSONResponse({"type": f"/problems/{code}", "title": titles[code]})
