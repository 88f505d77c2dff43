"""``fund-ledger serve``: the API and the public page."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.config import Settings
from fund_ledger import common
from fund_ledger.common import SERVED_BY_ENV, err, fail, failing_on
from fund_ledger.stores import address
from fund_ledger.trust import read_signer, write_key_pair, write_public_key
from ledger.demo import load_demo
from ledger.domain.errors import KeyEncryptionKeyMissing
from ledger.log.notes import Signer

LISTEN_HINTS = {
    errno.EADDRINUSE: "stop what holds it, or choose another --port",
    errno.EADDRNOTAVAIL: "--host must be an address of this machine (127.0.0.1, 0.0.0.0 ...)",
    errno.EACCES: "ports below 1024 need privileges; choose --port 8000 or another above",
}
WORKERS_MAX = 16
VIEWS_RESTART_PAUSE_S = 1.0
# uvicorn's "trace" would log every ASGI message, request headers (and tokens) included.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    with_demo: Annotated[
        bool, typer.Option("--demo", help="Load the Nanhu demo first if the store is empty.")
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            help="critical, error, warning, info (adds one line per request) or debug; "
            "the service's loggers and uvicorn's alike, to stderr (requests to stdout)."
        ),
    ] = "warning",
    workers: Annotated[
        int,
        typer.Option(
            help="API processes (above 1, PostgreSQL only). On PostgreSQL the views and the "
            "checkpoints are kept by one more process, which serve starts, restarts and ends "
            "with itself. With one API process a gift is answered once durable and every "
            "other request waits until the views show it; with more, each gift's answer waits "
            "for the views' announcement."
        ),
    ] = 1,
) -> None:
    """Serve the API (and the public page) on the store named by FUND_LEDGER_DATABASE_URL."""
    import logging

    import uvicorn

    if not 0 < port < 65536:
        raise fail(f"--port must be a port number from 1 to 65535, not {port}")
    _check_address(host, port)
    if log_level not in LOG_LEVELS:
        raise fail(f"--log-level is one of {', '.join(LOG_LEVELS)}")
    if not 1 <= workers <= WORKERS_MAX:
        raise fail(f"--workers is from 1 to {WORKERS_MAX}, not {workers}")
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )

    from api.app import create_app

    settings = Settings()
    with failing_on(ValueError):
        settings.proxy_networks()
    ledger = common.open_ledger(create=True)
    key_file = Path(settings.signing_key_file)
    if with_demo:
        _demo_signing_key(key_file)
    if with_demo:
        if ledger.position():
            err.print(
                "the store is not empty: serving it as it is, without loading the demo "
                "(fund-ledger users token --name NAME gives someone a new token)"
            )
        else:
            common.with_new_kek(ledger)
            users = load_demo(ledger, lambda step: err.print(f"demo: {step}"))
            common.print_tokens(users.tokens)
    if ledger.keyring.kek is None and ledger.position():
        raise fail(KeyEncryptionKeyMissing(ledger.keyring.kek_source).detail)
    on_sqlite = address(settings.database_url).scheme == "sqlite"
    if workers > 1 and on_sqlite:
        raise fail("--workers above 1 needs PostgreSQL: an SQLite store takes one process")
    if not on_sqlite:
        # On PostgreSQL the views are kept by a process of their own, so that applying them
        # does not share the API process's interpreter lock with answering requests.
        # The views' tables made here, once: made by every process at its start, their
        # CREATE TABLE IF NOT EXISTS race in PostgreSQL's catalogue.
        common.open_views(ledger).close()
        ledger.close()
        processes = f"{workers} API processes" if workers > 1 else "one API process"
        err.print(
            f"serving on http://{host}:{port}/ with {processes} and the views apart (docs at /docs)"
        )
        _serve_apart(host, port, log_level, workers, sign=Path(settings.signing_key_file).exists())
        return
    err.print(f"serving on http://{host}:{port}/ (API docs at /docs)")
    # The app reads X-Forwarded-For itself, from the proxies it is told to trust
    # (api/clients.py); uvicorn's own reading would trust any local process.
    uvicorn.run(
        create_app(settings.model_copy(update={"answer_gifts_before_views": True}), ledger),
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
    )


def _serve_apart(host: str, port: int, log_level: str, workers: int, *, sign: bool) -> None:
    """API processes under uvicorn's supervisor, and one views worker (``projections run``)
    that this process restarts whenever it ends, until the service stops."""
    import subprocess
    import threading

    import uvicorn

    command = [sys.executable, "-m", "fund_ledger", "projections", "run"]
    if sign:
        command.append("--sign-checkpoints")
    stopping = threading.Event()
    worker: list[subprocess.Popen[bytes]] = []
    # The worker ends with this process, however it ends (``projections run``).
    worker_env = {**os.environ, SERVED_BY_ENV: str(os.getpid())}

    def supervise() -> None:
        while not stopping.is_set():
            worker[:] = [subprocess.Popen(command, stdout=subprocess.DEVNULL, env=worker_env)]  # noqa: S603 - our own CLI
            while worker[0].poll() is None and not stopping.is_set():
                stopping.wait(0.5)
            if not stopping.is_set():
                err.print(f"the views worker ended ({worker[0].returncode}): starting it again")
                stopping.wait(VIEWS_RESTART_PAUSE_S)

    supervisor = threading.Thread(target=supervise, name="views-supervisor", daemon=True)
    supervisor.start()
    os.environ["FUND_LEDGER_VIEWS_ELSEWHERE"] = "1"  # read by each API process's Settings
    # With one API process every read goes through it: its gifts are answered once durable.
    os.environ["FUND_LEDGER_ANSWER_GIFTS_BEFORE_VIEWS"] = "1" if workers == 1 else "0"
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            log_level=log_level,
            proxy_headers=False,
            workers=workers,
        )
    finally:
        stopping.set()
        for process in worker:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        supervisor.join(timeout=5)


def _check_address(host: str, port: int) -> None:
    """The address to listen on, tried before the store is opened or the demo loaded: taken
    or unknown, it is one line now rather than uvicorn's error after the start."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise fail(f"--host {host}: {error.strerror}; give an address of this machine") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as error:
            hint = LISTEN_HINTS.get(error.errno or 0, "choose another --port or --host")
            raise fail(f"cannot listen on {host}:{port}: {error.strerror}; {hint}") from None


def _demo_signing_key(key_file: Path) -> None:
    """A key to sign the demo's log, and its public key beside it (.pub) for verify --key;
    a key already there is kept, and only its missing .pub written."""
    public = key_file.with_suffix(".pub")
    if key_file.exists():
        if not public.exists():
            write_public_key(public, read_signer(Settings()).verifier)
            err.print(f"wrote the public key {public}")
        return
    signer = Signer.generate("fund-ledger.local/nanhu-demo")
    write_key_pair(key_file, signer)
    err.print(
        f"made a demo signing key in {key_file} and its public key in {public} "
        f"(for fund-ledger verify --key {public}): {signer.verifier.encode()}"
    )
