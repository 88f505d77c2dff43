"""Many funds served from one process: each fund's API under ``/f/{fund}/``, opened on its first
request, the least recently used closed beyond a bound, so the connections held stay bounded.

Each fund is the single-fund service unchanged (``create_app`` and ``open_services``): its own
store (a schema), ledger, views, runner, checkpointer and signing key, so tokens, rights,
idempotency, read-your-writes and the signed log stay per fund. What the district adds is
which funds are open: at most ``open_max`` at a time, each with a small pool (none made before
it is needed, at most ``pool_max``), and a fund idle for ``idle_close_s`` is closed, so the
connections held are at most ``open_max * pool_max`` whatever the number of funds, and none
while no fund is asked for (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import tomllib
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api import logs, problems
from api.app import SECURITY_HEADERS, create_app, open_services
from api.config import IDLE_CLOSE_S, OPEN_MAX, POOL_MAX, Settings
from api.services import Services
from ledger.app import FundLedger
from ledger.store.database import persistence_env

log = logging.getLogger("fund_ledger.district")

PREFIX = "/f/"
# A fund's name is its path segment and, in a district of schemas, its schema: no quoting needed.
FUND_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# The events table eventsourcing makes for FundLedger: a schema holding it is a fund's store.
EVENTS_TABLE = "fundledger_events"
# Waiting for a free slot (every open fund busy) is bounded like any other wait.
SLOT_WAIT_S = 10.0
# How often the district looks for funds idle past idle_close_s.
SWEEP_INTERVAL_S = 5.0
# The fund schemas are listed again, when a name not among them is asked for, no sooner than this.
RELIST_S = 5.0
OPEN_TIMES_KEPT = 1000
# An open fund that nobody writes to should cost the database next to nothing: its views are
# woken by PostgreSQL's notification (or, on SQLite, by the district's own writes), so their
# polling is only a fallback, and its store is probed less often than a single fund's.
POLL_INTERVAL_S = 2.0
PROBE_INTERVAL_S = 5.0
HTML_BODY_BYTES_MAX = 16 * 1024 * 1024
# Root-relative links in a fund's pages, which need its prefix (not protocol-relative ones).
ROOT_LINK = re.compile(rb'((?:href|src|action)=")/(?!/)')


@dataclass(frozen=True)
class FundSource:
    """Where a fund's store and signing key are."""

    name: str
    database_url: str
    signing_key_file: str


class Directory:
    """The funds a district serves: listed in a TOML file, or every fund schema of one
    PostgreSQL database (looked up when first asked for, so a fund added later is served)."""

    def __init__(
        self,
        listed: dict[str, FundSource] | None = None,
        database_url: str = "",
        keys_dir: Path | None = None,
    ) -> None:
        self._listed = listed
        self._database_url = database_url
        self._keys_dir = keys_dir or Path()
        self._separator = "&" if "?" in database_url else "?"
        self._found: dict[str, FundSource] = {}
        self._listed_at = float("-inf")
        self._lock = threading.Lock()

    @classmethod
    def read(cls, source: str, keys_dir: Path | None = None) -> Directory:
        """A district from ``FILE`` (TOML: ``[funds.NAME]`` with ``database_url`` and
        ``signing_key_file``) or from a PostgreSQL URL (a fund per schema, its key
        ``KEYS_DIR/NAME.key``)."""
        if urlsplit(source).scheme in {"postgresql", "postgres"}:
            if "schema=" in source:
                msg = "a district's URL names its database, not a schema: each fund is one"
                raise ValueError(msg)
            return cls(database_url=source, keys_dir=keys_dir)
        data = tomllib.loads(Path(source).read_text(encoding="utf-8"))
        funds = data.get("funds")
        if not isinstance(funds, dict) or not funds:
            msg = f"{source} lists no funds: a table funds.NAME for each"
            raise ValueError(msg)
        listed = {}
        for name, fund in funds.items():
            if not FUND_NAME.fullmatch(name) or "database_url" not in fund:
                msg = (
                    f"{source}: funds.{name} needs a name of lowercase letters, digits and _, "
                    "and a database_url"
                )
                raise ValueError(msg)
            key = fund.get("signing_key_file") or str((keys_dir or Path()) / f"{name}.key")
            listed[name] = FundSource(name, fund["database_url"], key)
        return cls(listed=listed)

    def lookup(self, name: str) -> FundSource | None:
        """The fund of that name, or None. Blocking: it may ask the database, one caller at a
        time and no more often than every few seconds, with one short-lived connection."""
        if not FUND_NAME.fullmatch(name):
            return None
        if self._listed is not None:
            return self._listed.get(name)
        with self._lock:
            if name not in self._found and time.monotonic() >= self._listed_at + RELIST_S:
                self._found = {
                    schema: FundSource(
                        schema,
                        f"{self._database_url}{self._separator}schema={schema}",
                        str(self._keys_dir / f"{schema}.key"),
                    )
                    for schema in _fund_schemas(self._database_url)
                    if FUND_NAME.fullmatch(schema)
                }
                self._listed_at = time.monotonic()
            return self._found.get(name)


def _fund_schemas(database_url: str) -> list[str]:
    """The schemas holding a fund's events table."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = %s",
            (EVENTS_TABLE,),
        ).fetchall()
    return [str(row[0]) for row in rows]


def district_env(database_url: str, pool_max: int) -> dict[str, str]:
    """A fund's store with a small pool: none made before it is needed, at most ``pool_max``
    (the views' listener takes one of them on PostgreSQL). psycopg closes an unused connection
    only after ten minutes, one at a time, and an open fund's runner, checkpointer and probe
    keep them in use: the connections go when the district closes the fund."""
    env = persistence_env(database_url)
    env["POSTGRES_POOL_SIZE"] = "0"
    env["POSTGRES_MAX_OVERFLOW"] = str(pool_max)
    return env


def _pool(ledger: FundLedger) -> Any:
    """The ledger's psycopg pool, or None (SQLite)."""
    pool = getattr(getattr(ledger.factory, "datastore", None), "pool", None)
    return pool if hasattr(pool, "max_idle") else None


@dataclass
class OpenFund:
    """One fund while open: its app, what it runs on, and whether requests are in it."""

    name: str
    app: FastAPI | None = None
    services: Services | None = None
    in_flight: int = 0
    used_at: float = field(default_factory=time.monotonic)


@dataclass
class DistrictStats:
    opens: int = 0
    closes: int = 0
    open_failures: int = 0
    open_s: deque[float] = field(default_factory=lambda: deque(maxlen=OPEN_TIMES_KEPT))
    close_s: deque[float] = field(default_factory=lambda: deque(maxlen=OPEN_TIMES_KEPT))

    def report(self) -> dict[str, Any]:
        return {
            "opens": self.opens,
            "closes": self.closes,
            "open_failures": self.open_failures,
            "open_s_p50": _quantile(self.open_s, 0.5),
            "open_s_p99": _quantile(self.open_s, 0.99),
            "close_s_p50": _quantile(self.close_s, 0.5),
            "close_s_p99": _quantile(self.close_s, 0.99),
        }


def _quantile(values: deque[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 4)


class DistrictAccess(logs.AccessByRoute):
    """The access log of a district: the fund's name, then the route that served the request
    inside it, never the path or query string as typed (``api.logs``)."""

    def template(self, full_path: str) -> str:
        path = full_path.split("?", 1)[0]
        name, _, rest = path.removeprefix(PREFIX).partition("/")
        if path == "/healthz":
            return path
        if not path.startswith(PREFIX) or not FUND_NAME.fullmatch(name):
            return logs.UNMATCHED
        return f"{PREFIX}{name}" + super().template("/" + rest)


class SlotsBusy(Exception):
    """Every open fund is busy and none may be opened: the district is at its bound."""


class District:
    """The ASGI application a district runs: ``/f/{fund}/...`` is that fund's service."""

    def __init__(
        self,
        directory: Directory,
        settings: Settings | None = None,
        *,
        open_max: int = OPEN_MAX,
        pool_max: int = POOL_MAX,
        idle_close_s: float = IDLE_CLOSE_S,
        probe_interval_s: float = PROBE_INTERVAL_S,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        if open_max < 1 or pool_max < 2:  # the views' listener and one more
            msg = "a district opens at least one fund, with a pool of at least 2"
            raise ValueError(msg)
        self.directory = directory
        self.settings = settings or Settings()
        self.open_max = open_max
        self.pool_max = pool_max
        self.idle_close_s = idle_close_s
        self.probe_interval_s = probe_interval_s
        self.poll_interval_s = poll_interval_s
        self.stats = DistrictStats()
        # Open (or opening) funds, least recently used first.
        self._funds: OrderedDict[str, OpenFund] = OrderedDict()
        self._closing = 0
        self._changed: asyncio.Condition | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def connections_max(self) -> int:
        """The most connections the district's funds can hold at once."""
        return self.open_max * self.pool_max

    def connections_held(self) -> int:
        """The connections the open funds' pools hold now, in use or idle."""
        held = 0
        for fund in list(self._funds.values()):
            pool = None if fund.services is None else _pool(fund.services.ledger)
            if pool is not None:
                held += int(pool.get_stats().get("pool_size", 0))
        return held

    def open_names(self) -> list[str]:
        return [name for name, fund in self._funds.items() if fund.services is not None]

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/healthz":
            await self._answer_json(send, 200, self.health())
            return
        name, _, rest = path.removeprefix(PREFIX).partition("/")
        if not path.startswith(PREFIX) or not name:
            await self._problem(scope, receive, send, 404, "not-found", "a fund is at /f/NAME/")
            return
        if not rest and not path.endswith("/"):
            location = f"{scope.get('root_path', '')}{path}/"
            await send(
                {
                    "type": "http.response.start",
                    "status": 308,
                    "headers": [
                        (b"location", location.encode()),
                        *_security_headers(),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            source = await run_in_threadpool(self.directory.lookup, name)
            if source is None:
                await self._problem(
                    scope, receive, send, 404, "no-such-fund", "no fund of that name"
                )
                return
            fund = await self.acquire(source)
        except SlotsBusy:
            await self._problem(
                scope,
                receive,
                send,
                503,
                "district-busy",
                "every open fund is busy; retry",
                headers={"Retry-After": str(problems.RETRY_AFTER_S)},
            )
            return
        except Exception as error:  # the store cannot be reached: say so, as one fund would
            log.warning("fund %s cannot be opened: %s", name, type(error).__name__)
            await self._problem(
                scope,
                receive,
                send,
                503,
                "store-unavailable",
                "this fund's database cannot be opened; try again shortly",
                headers={"Retry-After": str(problems.RETRY_AFTER_S)},
            )
            return
        prefix = f"{PREFIX}{name}"
        inner = dict(scope, path="/" + rest, root_path=scope.get("root_path", "") + prefix)
        raw_path: bytes = scope.get("raw_path") or b""
        inner["raw_path"] = (
            raw_path[len(prefix) :] if raw_path.startswith(prefix.encode()) else None
        )
        if inner["raw_path"] is None:
            del inner["raw_path"]
        try:
            assert fund.app is not None
            await fund.app(inner, receive, _prefixing(send, prefix.encode()))
        finally:
            await self.release(fund)

    # -- opening and closing funds ---------------------------------------------------------

    async def acquire(self, source: FundSource) -> OpenFund:
        """The fund open, with this request counted in it; opened first if need be, closing
        the least recently used idle fund when ``open_max`` are open.

        Opening and closing run as tasks of their own, which a request that goes away does not
        cancel: a fund half opened or half closed would hold connections nobody counts.
        """
        changed = self._condition()
        deadline = time.monotonic() + SLOT_WAIT_S
        while True:
            victim = opening = None
            async with changed:
                fund = self._funds.get(source.name)
                if fund is not None and fund.services is not None:
                    fund.in_flight += 1
                    self._funds.move_to_end(source.name)
                    return fund
                if fund is None and len(self._funds) + self._closing < self.open_max:
                    opening = OpenFund(source.name)
                    self._funds[source.name] = opening
                elif fund is None:
                    victim = next(
                        (f for f in self._funds.values() if f.services and not f.in_flight), None
                    )
                    if victim is not None:
                        del self._funds[victim.name]
                        self._closing += 1
                if opening is None and victim is None:
                    # Being opened by another request, or every slot busy: wait for a change.
                    remaining_s = deadline - time.monotonic()
                    if remaining_s <= 0:
                        raise SlotsBusy
                    with suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), remaining_s)
                    continue
            if victim is not None:
                await asyncio.shield(asyncio.ensure_future(self._close(victim)))
            if opening is not None:
                await asyncio.shield(asyncio.ensure_future(self._opened(source, opening)))
            # Then round again: the fund is open now (or failed, and this request opens it).

    async def _opened(self, source: FundSource, fund: OpenFund) -> None:
        """Open a fund counted in ``_funds`` as opening; on failure it is counted no more."""
        changed = self._condition()
        started = time.perf_counter()
        try:
            fund.app, fund.services = await run_in_threadpool(self._open, source)
        except BaseException:
            async with changed:
                self.stats.open_failures += 1
                del self._funds[source.name]
                changed.notify_all()
            raise
        async with changed:
            self.stats.opens += 1
            self.stats.open_s.append(time.perf_counter() - started)
            fund.used_at = time.monotonic()
            changed.notify_all()

    async def release(self, fund: OpenFund) -> None:
        changed = self._condition()
        async with changed:
            fund.in_flight -= 1
            fund.used_at = time.monotonic()
            changed.notify_all()

    def _open(self, source: FundSource) -> tuple[FastAPI, Services]:
        """A fund's service, opened as ``fund-ledger serve`` opens it (blocking)."""
        base_url = self.settings.base_url
        settings = self.settings.model_copy(
            update={
                "database_url": source.database_url,
                "signing_key_file": source.signing_key_file,
                "base_url": f"{base_url}{PREFIX}{source.name}" if base_url else "",
                "poll_interval_s": max(self.settings.poll_interval_s, self.poll_interval_s),
            }
        )
        ledger = FundLedger(district_env(source.database_url, self.pool_max))
        try:
            services = open_services(settings, ledger)
        except BaseException:
            ledger.close()
            raise
        services.store_probe_interval_s = self.probe_interval_s
        app = create_app(settings)
        app.state.services = services
        return app, services

    async def _close(self, fund: OpenFund) -> None:
        started = time.perf_counter()
        try:
            if fund.services is not None:
                await run_in_threadpool(fund.services.close)
        finally:
            changed = self._condition()
            async with changed:
                self._closing -= 1
                self.stats.closes += 1
                self.stats.close_s.append(time.perf_counter() - started)
                changed.notify_all()

    async def close_idle(self, idle_s: float) -> int:
        """Close the funds without a request for ``idle_s``; how many were closed."""
        changed = self._condition()
        now = time.monotonic()
        async with changed:
            idle = [
                f
                for f in self._funds.values()
                if f.services and not f.in_flight and now - f.used_at >= idle_s
            ]
            for fund in idle:
                del self._funds[fund.name]
                self._closing += 1
        for fund in idle:
            await self._close(fund)
        return len(idle)

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    # -- the district's own answers --------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "open": len(self.open_names()),
            "open_max": self.open_max,
            "pool_max": self.pool_max,
            "connections_max": self.connections_max,
            "connections_held": self.connections_held(),
            **self.stats.report(),
        }

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        access: DistrictAccess | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._sweeper = asyncio.create_task(self._sweep())
                access = DistrictAccess(create_app(self.settings).routes)
                logging.getLogger(logs.ACCESS_LOGGER).addFilter(access)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if access is not None:
                    logs.remove_access_filter(access)
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Close every fund (waiting for none: the server has stopped taking requests)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await self._sweeper
        changed = self._condition()
        async with changed:
            funds = [f for f in self._funds.values() if f.services is not None]
            self._funds.clear()
            self._closing += len(funds)
        await asyncio.gather(*(self._close(f) for f in funds))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.close_idle(self.idle_close_s)
            except Exception:  # a fund that fails to close is logged; the sweep goes on
                log.exception("closing idle funds failed")

    async def _answer_json(self, send: Send, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ]
        headers += _security_headers()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def _problem(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        kind: str,
        detail: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        response = problems.problem(status, kind, detail, headers=headers)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        await response(scope, receive, with_headers)


def _security_headers() -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


def _prefixing(send: Send, prefix: bytes) -> Callable[[Message], Any]:
    """A fund's answers with its prefix on the root-relative links of its pages and on its
    redirects: its templates link to ``/donations``, which in a district is
    ``/f/{fund}/donations``."""
    html = False
    start: Message | None = None
    body = bytearray()

    async def prefixed(message: Message) -> None:
        nonlocal html, start
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            location = headers.get("location")
            if location and location.startswith("/") and not location.startswith("//"):
                headers["location"] = prefix.decode() + location
            html = headers.get("content-type", "").startswith("text/html")
            if not html:
                await send(message)
                return
            start = message
            return
        if message["type"] != "http.response.body" or not html:
            await send(message)
            return
        body.extend(message.get("body", b""))
        if len(body) > HTML_BODY_BYTES_MAX:
            raise ValueError("a page larger than any the service makes")
        if message.get("more_body", False):
            return
        assert start is not None
        data = ROOT_LINK.sub(rb"\1" + prefix + b"/", bytes(body))
        MutableHeaders(scope=start)["content-length"] = str(len(data))
        await send(start)
        await send({"type": "http.response.body", "body": data})

    return prefixed


@asynccontextmanager
async def serving(district: District) -> AsyncIterator[District]:
    """The district for use outside a server (tests, the bench): closed on leaving."""
    try:
        yield district
    finally:
        await district.aclose()
