"""Operations: health, metrics, and the pages that problem types point to."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from api.deps import ServicesDep
from api.metrics import CONTENT_TYPE, exposition
from api.models import PROBLEM_RESPONSES
from api.problems import RETRY_AFTER_S, problem
from ledger.domain import errors

# Any route may refuse a bad token (401), or an address with too many of them (429).
router = APIRouter(
    tags=["operations 运维"],
    responses={status: PROBLEM_RESPONSES[status] for status in (401, 422, 429)},
)


def _answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: PROBLEM_RESPONSES[status] for status in statuses}


@router.get(
    "/healthz",
    summary="Is the store reachable, and how far behind are the views?",
    responses=_answers(503),
)
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
def metrics(services: ServicesDep) -> Response:
    try:
        statuses = services.store_status()
    except Exception:  # the store is down: the metrics say so instead of waiting for it
        statuses = None
    stats = services.donations.stats if services.donations is not None else None
    return Response(exposition(services.metrics, stats, statuses), media_type=CONTENT_TYPE)


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


@router.get("/problems/{code}", summary="What a problem type means", responses=_answers(404))
def problem_type(
    code: Annotated[
        str,
        Path(
            min_length=1,
            max_length=64,
            pattern=r"^[a-z0-9-]+$",
            description="The last part of a problem's `type`, e.g. insufficient-funds.",
            examples=["insufficient-funds"],
        ),
    ],
) -> JSONResponse:
    titles = _problem_types()
    if code not in titles:
        return problem(404, "not-found", f"no problem type {code}")
    return JSONResponse({"type": f"/problems/{code}", "title": titles[code]})
