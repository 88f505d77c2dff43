"""``fund-ledger serve``: the API and the public page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from api.config import Settings
from fund_ledger import common
from fund_ledger.common import err, fail, failing_on
from fund_ledger.trust import write_secret
from ledger.demo import load_demo
from ledger.domain.errors import KeyEncryptionKeyMissing
from ledger.log.notes import Signer

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
) -> None:
    """Serve the API (and the public page) on the store named by FUND_LEDGER_DATABASE_URL."""
    import logging

    import uvicorn

    if log_level not in LOG_LEVELS:
        raise fail(f"--log-level is one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )

    from api.app import create_app

    settings = Settings()
    with failing_on(ValueError):
        settings.proxy_networks()
    ledger = common.open_ledger()
    key_file = Path(settings.signing_key_file)
    if with_demo and not key_file.exists():
        signer = Signer.generate("fund-ledger.local/nanhu-demo")
        write_secret(key_file, signer.encode())
        err.print(f"made a demo signing key in {key_file}; public key: {signer.verifier.encode()}")
    if with_demo:
        if ledger.position():
            err.print("the store is not empty: serving it as it is, without loading the demo")
        else:
            common.with_new_kek(ledger)
            users = load_demo(ledger, lambda step: err.print(f"demo: {step}"))
            err.print("demo users' tokens (shown once):")
            for name, (role, token) in users.tokens.items():
                typer.echo(f"{role:<10} {name}\t{token}")
    if ledger.keyring.kek is None and ledger.position():
        raise fail(KeyEncryptionKeyMissing(ledger.keyring.kek_source).detail)
    err.print(f"serving on http://{host}:{port}/ (API docs at /docs)")
    # The app reads X-Forwarded-For itself, from the proxies it is told to trust
    # (api/clients.py); uvicorn's own reading would trust any local process.
    uvicorn.run(
        create_app(settings, ledger),
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
    )
