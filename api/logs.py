"""What the service logs: requests by route template, and errors by type and place, never data.

A request line (uvicorn's access log) would show the query string and the path as the caller
typed them: a receipt number, a donor's name or phone, a token sent as a parameter, an ID number
where an id belongs. An unhandled exception's message may quote a row it failed on. So the access
log names the route that served a request, and an unhandled error is logged with its type and
stack but not its message.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from typing import Any

import fastapi.routing
from starlette.routing import Mount

ACCESS_LOGGER = "uvicorn.access"
UNMATCHED = "(unmatched)"
CAUSES_MAX = 5


def route_templates(routes: Iterable[Any]) -> list[tuple[re.Pattern[str], str]]:
    """Each route as a pattern over paths and the template it is logged as."""
    # FastAPI 0.120 and later nest included routers; older versions list every route flat.
    flatten = getattr(fastapi.routing, "iter_route_contexts", list)
    found = []
    for context in flatten(routes):
        route = getattr(context, "route", context)
        if isinstance(route, Mount):
            template = f"{context.path}/{{path}}"
            found.append((re.compile(re.escape(context.path) + "/.*"), template))
            continue
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(context.path))
        found.append((re.compile(pattern), context.path))
    return found


class AccessByRoute(logging.Filter):
    """Rewrites uvicorn's access-log records to show the route template, not the path typed."""

    def __init__(self, routes: Iterable[Any]) -> None:
        super().__init__()
        self.templates = route_templates(routes)

    def template(self, full_path: str) -> str:
        path = full_path.split("?", 1)[0]
        for pattern, template in self.templates:
            if pattern.fullmatch(path):
                return template
        return UNMATCHED

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn logs (client, method, path with query, HTTP version, status).
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], self.template(args[2]), args[3], args[4])
        return True


def install_access_filter(routes: Iterable[Any]) -> AccessByRoute:
    access_filter = AccessByRoute(routes)
    logging.getLogger(ACCESS_LOGGER).addFilter(access_filter)
    return access_filter


def remove_access_filter(access_filter: AccessByRoute) -> None:
    logging.getLogger(ACCESS_LOGGER).removeFilter(access_filter)


def stack_without_messages(error: BaseException) -> str:
    """A traceback as Python prints it, each exception's message withheld (it may hold data)."""
    parts: list[str] = []
    current: BaseException | None = error
    for _ in range(CAUSES_MAX):
        if current is None:
            break
        frames = traceback.format_list(traceback.extract_tb(current.__traceback__))
        kind = type(current)
        parts.insert(
            0,
            "Traceback (most recent call last):\n"
            + "".join(frames)
            + f"{kind.__module__}.{kind.__qualname__} (message withheld)\n",
        )
        # Python's own rule for which earlier exception to show.
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\n".join(parts)
