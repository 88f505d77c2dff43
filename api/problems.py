"""RFC 9457 problem details: every refusal explained, mapped in one place from domain errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import psycopg
from eventsourcing.persistence import DataError, InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.models import (
    HEADER_TEXT_PATTERN,
    ID_PATTERN,
    TEXT_PATTERN,
    YUAN_OR_ZERO_PATTERN,
    YUAN_PATTERN,
)
from ledger.domain.errors import LedgerError
from ledger.domain.money import YUAN_MEANING
from projections.exports import ExportMoved

log = logging.getLogger("fund_ledger.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 2

# Domain error kinds to HTTP statuses: the only place this mapping lives.
STATUS_BY_KIND = {
    "invalid": 422,
    "unauthenticated": 401,
    "not_found": 404,
    "forbidden": 403,
    "conflict": 409,
    "unavailable": 503,
}

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **facts: Any,
) -> JSONResponse:
    body = {
        "type": f"/problems/{code}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **facts,
    }
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {})
    )


class ApiProblem(Exception):
    """A refusal decided in the API layer itself (no token, bad token, not found)."""

    def __init__(self, status: int, code: str, detail: str, **facts: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.facts = facts


def _ledger_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LedgerError)
    status = STATUS_BY_KIND[error.kind]
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else {}
    facts = error.facts
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
        facts = {}  # whose token it was is not told to whoever presented it
    return problem(status, error.code, error.detail, title=error.title, headers=headers, **facts)


def _api_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiProblem)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
    if "retry_after_s" in error.facts:
        headers["Retry-After"] = str(error.facts["retry_after_s"])
    return problem(error.status, error.code, error.detail, headers=headers, **error.facts)


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    """pydantic's location as the ledger names fields: ``donations[1].amount``."""
    field = ""
    for part in location:
        if part == "body":
            continue
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += f".{part}" if field else str(part)
    return field


# What a pattern asks for, in words: a person reads the refusal, not a regular expression
# (the pattern itself stays in the OpenAPI document).
PATTERN_MEANINGS = {
    YUAN_PATTERN: YUAN_MEANING,
    YUAN_OR_ZERO_PATTERN: YUAN_MEANING,
    TEXT_PATTERN: "must be non-empty text without control characters",
    HEADER_TEXT_PATTERN: "must be visible ASCII characters, spaces only between them",
    ID_PATTERN: "must be an id: printable ASCII characters without spaces",
}
# An amount written right but out of bounds is told so, not that it is malformed.
WELL_FORMED_YUAN = re.compile(r"(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?")
YUAN_BOUNDS = {
    YUAN_PATTERN: "must be more than zero and at most 1000000000000.00",
    YUAN_OR_ZERO_PATTERN: "must be at most 1000000000000.00",
}


def _message(error: Mapping[str, Any]) -> str:
    if error.get("type") == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern"))
        given = error.get("input")
        meaning = PATTERN_MEANINGS.get(pattern)
        if pattern in YUAN_BOUNDS and WELL_FORMED_YUAN.fullmatch(str(given)):
            meaning = YUAN_BOUNDS[pattern]
        if meaning is not None:
            return f"{meaning} (given: {given})"
    return str(error["msg"])


def _validation(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"field": _field(e["loc"]), "message": _message(e)} for e in error.errors()]
    first = errors[0] if errors else {"field": "", "message": "invalid"}
    return problem(
        422,
        "invalid-input",
        f"{first['field']}: {first['message']}",
        field=first["field"],
        errors=errors,
    )


# The methods an Allow header may name.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path.

    Starlette answers 405 with the methods of the first route whose path matched, so a path
    read by one route and written by another (``/v1/expenses``) would allow only one of them.
    Each method is tried against the routes as the router would (``Match.FULL``).
    """
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem(error.status_code, code, str(error.detail), headers=headers)


def _unstorable(_: Request, error: Exception) -> JSONResponse:
    # The database refused a value (a NUL character, a number out of range): bad input.
    return problem(422, "invalid-input", f"a value cannot be stored or searched: {error}")


def _store_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("store unavailable: %s", type(error).__name__)
    services = getattr(request.app.state, "services", None)
    if services is not None and not isinstance(error, ExportMoved):
        services.store_failed()
    return problem(
        503,
        "store-unavailable",
        "the ledger's database cannot be reached; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    for unstorable in (DataError, psycopg.DataError, OverflowError):
        app.add_exception_handler(unstorable, _unstorable)
    # A journal that kept moving while it was read is as good as a store that is busy.
    for store_error in (
        OperationalError,
        InterfaceError,
        ConnectionError,
        TimeoutError,
        ExportMoved,
    ):
        app.add_exception_handler(store_error, _store_unavailable)
