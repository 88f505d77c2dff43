"""The FastAPI application: wiring the ledger, the views and the routes together."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import hot, logs, problems
from api.config import Settings
from api.deps import current_actor
from api.limits import BodyLimit, Deadline
from api.routes import commands, docs, exports, money, ops, pages, panel, reads, transparency
from api.services import AuthThrottle, Services
from ledger.app import FundLedger
from ledger.domain import today
from ledger.log.notes import Signer
from ledger.service.batching import GroupCommitter
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import LiveRunner, Views, ViewsFollower

log = logging.getLogger("fund_ledger.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Pages run no script and load nothing from another origin: they must work on a closed network.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The API docs run Swagger UI: scripts from this origin, on the docs only.
DOCS_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": docs.DOCS_POLICY}
# What answers without the store: health and metrics report on it, the rest never touch it.
PATHS_WITHOUT_STORE = ("/healthz", "/metrics", "/problems/", "/static/", "/docs", "/openapi.json")

DESCRIPTION = """
fund-ledger keeps a community fund's books as immutable events: donations, grants, expenses
and their corrections. 社区共富基金的账本：每笔捐赠、资助、支出与更正都不可篡改。

* Amounts are yuan strings such as `"1280.50"` in and out. 金额以元为单位的字符串表示。
* Writes need `Authorization: Bearer TOKEN` (`fund-ledger users add`); reads without a token get
  the public variant: masked donors, no contact details, no personal payees.
  写操作需要令牌；无令牌的读取只返回公开信息。
* Every POST takes an `Idempotency-Key`. Refusals are RFC 9457 problem details.
"""


class HeadersAndMetrics:
    """Security headers on every response, every request counted and timed, a 503 at once
    while the store is known to be down, and a bug answered with a 500 problem.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) costs a
    task group and a body stream per request, a fifth of a donation POST's CPU.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        answered = False
        services: Services | None = getattr(scope["app"].state, "services", None)
        store = None if scope["path"].startswith(PATHS_WITHOUT_STORE) else services
        headers = DOCS_HEADERS if scope["path"].startswith(docs.DOCS_PATH) else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                answered = True
                MutableHeaders(scope=message).update(headers)
            await send(message)

        try:
            if store is not None and not store.store_up:
                # The store is known to be down: say so now rather than hold the caller.
                down = problems.problem(
                    503,
                    "store-unavailable",
                    "the ledger's database cannot be reached; try again shortly",
                    headers={"Retry-After": str(problems.RETRY_AFTER_S)},
                    store="down",
                )
                await down(scope, receive, send_with_headers)
                return
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception as error:  # a bug: logged without its message, which may quote data
                log.error(
                    "unhandled %s in %s %s\n%s",
                    type(error).__name__,
                    scope["method"],
                    getattr(scope.get("route"), "path", logs.UNMATCHED),
                    logs.stack_without_messages(error),
                )
                if answered:
                    raise  # the answer has begun: the server closes the connection
                failed = problems.problem(500, "internal-error", "an internal error; it is logged")
                await failed(scope, receive, send_with_headers)
            if store is not None and status < 300:
                store.store_answered()  # however slow its probe, the store is there
        finally:
            if services is not None:
                path = getattr(scope.get("route"), "path", "unmatched")
                services.metrics.observe(
                    scope["method"], path, status, time.perf_counter() - started
                )


class AfterAnsweredGifts:
    """Every request but a single gift waits until the views show the gifts this process has
    answered before they did (``Services.answer_before_views``): read-your-writes, held where
    the views are read. Inside the deadline, so that views a failing store holds back cost a
    request no more than any other wait on the store."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(PATHS_WITHOUT_STORE):
            services: Services | None = getattr(scope["app"].state, "services", None)
            if services is not None and not _is_single_gift(scope):
                await services.views_show_answered()
        await self.app(scope, receive, send)


def _is_single_gift(scope: Scope) -> bool:
    """The webhook path (``POST /v1/donations``), also where the app is mounted (the district)."""
    path, root = scope["path"], scope.get("root_path", "")
    return bool(scope["method"] == "POST" and path.removeprefix(root) == hot.PATH)


class FundLedgerAPI(FastAPI):
    """The app, with single gifts taken straight to their middleware and hot route.

    FastAPI's outer layers (its error and telemetry middleware, its body limit, the router's
    search) cost a request more than its own middleware does; the webhook path needs none of
    them: it gets this app's own middleware (``user_middleware``: headers, metrics, limits,
    deadline) and the app's exception handlers around the hot route, which hands anything
    uncommon to the declared FastAPI route as before."""

    _hot_route: hot.HotDonations | None = None
    _hot_stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_single_gift(scope) and self._hot_route is not None:
            if self._hot_stack is None:  # made at the first gift, as Starlette makes its stack
                self._hot_stack = self._straight_stack(self._hot_route)
            scope["app"] = self
            scope.setdefault("router", self.router)
            await self._hot_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def take_gifts_straight(self, route: hot.HotDonations) -> None:
        self._hot_route = route

    def _straight_stack(self, route: hot.HotDonations) -> ASGIApp:
        handlers = {
            key: handler
            for key, handler in self.exception_handlers.items()
            if key not in (500, Exception)  # answered by HeadersAndMetrics, as a 500 problem
        }
        inner = AsyncExitStackMiddleware(route)  # the declared route's request scope needs it
        stack: ASGIApp = ExceptionMiddleware(inner, handlers=handlers, debug=self.debug)
        for middleware in reversed(self.user_middleware):
            cls, args, kwargs = middleware
            stack = cls(stack, *args, **kwargs)
        return stack


def load_signer(path: str) -> Signer | None:
    """The signing key from its file, or None (checkpoints are then not signed)."""
    key_file = Path(path)
    if not key_file.exists():
        log.warning("no signing key at %s: checkpoints will not be signed", key_file)
        return None
    return Signer.decode(key_file.read_text())


def open_services(settings: Settings, ledger: FundLedger) -> Services:
    """What serving one fund runs on, started: its views kept current, its log signed, its
    store watched. Blocking (the views catch up first); ``Services.close`` undoes it."""
    views = Views(ledger)
    runner: LiveRunner | ViewsFollower
    if settings.views_elsewhere:  # serve --workers: another process keeps them, and signs
        runner = ViewsFollower(views).start()
    else:
        runner = LiveRunner(views, poll_interval_s=settings.poll_interval_s).start()
    signer = load_signer(settings.signing_key_file)
    log = Log(views.view("log"), origin=signer.name if signer else "unsigned")
    services = Services(
        ledger,
        views,
        Reader(views),
        runner,
        wait_s=settings.read_your_writes_wait_s,
        log=log,
        signer=signer,
        checkpoint_interval_s=settings.checkpoint_interval_s,
        auth_throttle=AuthThrottle(failures_max=settings.auth_failures_max),
        trusted_proxies=settings.proxy_networks(),
        store_probe_timeout_s=settings.store_probe_timeout_s,
        thresholds=settings.thresholds(),
        donations=GroupCommitter(
            ledger.record_donation_orders,
            window_s=settings.group_commit_window_s,
            batch_size_max=settings.group_commit_batch_size_max,
            name="donations-group-commit",
        ),
        answer_before_views=settings.answer_gifts_before_views,
    )
    if services.answer_before_views:
        # Gifts the last run of this process answered may not be in the views yet (a crash,
        # a restart under load): reads wait, bounded, until the views reach the log's head.
        services.answered_position = ledger.position()
    if not settings.views_elsewhere:
        services.start_checkpoints()
    services.start_store_monitor()
    return services


def create_app(settings: Settings | None = None, ledger: FundLedger | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.proxy_networks()  # a malformed entry fails now, not when the service starts

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = open_services(settings, ledger or FundLedger(settings.database_url))
        app.state.services = services
        access_filter = logs.install_access_filter(app.routes)
        try:
            yield
        finally:
            logs.remove_access_filter(access_filter)
            services.close()

    app = FundLedgerAPI(
        title="fund-ledger",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served from the service itself (api/routes/docs.py): no CDN, no ReDoc.
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    app.add_middleware(AfterAnsweredGifts)
    app.add_middleware(
        Deadline, deadline_s=settings.request_deadline_s, retry_after_s=problems.RETRY_AFTER_S
    )
    app.add_middleware(BodyLimit, limit_bytes=settings.request_body_bytes_max)
    app.add_middleware(HeadersAndMetrics)
    # A token is checked wherever it is sent, so a bad one is refused even on public reads.
    # The hot router's one route checks its own (``api.deps.signed_in_writer``).
    checked = [Depends(current_actor)]
    app.include_router(commands.hot_router)
    for router in (
        commands.router,
        money.router,
        reads.router,
        panel.router,
        exports.router,
        transparency.router,
        ops.router,
        pages.router,
    ):
        app.include_router(router, dependencies=checked)
    app.state.hot_donations = hot.install(app.router.routes, commands.hot_router.routes)
    app.take_gifts_straight(app.state.hot_donations)
    docs.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.public_site = settings.public_site()
    renew_openapi_daily(app)

    return app


def renew_openapi_daily(app: FastAPI) -> None:
    """The OpenAPI document made anew each day: a recorded date may be up to tomorrow, and the
    document states that window as a pattern (``api/models.py:dates_through``)."""
    build = app.openapi
    built_on: list[date] = []

    def openapi() -> dict[str, Any]:
        day = today()
        if built_on != [day]:
            app.openapi_schema = None
            built_on[:] = [day]
        return build()

    app.openapi = openapi  # type: ignore[method-assign]
