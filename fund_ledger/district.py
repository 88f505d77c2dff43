"""``fund-ledger district serve``: many funds from one process, each under ``/f/{fund}/``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.config import IDLE_CLOSE_S, OPEN_MAX, POOL_MAX, Settings
from fund_ledger.common import fail, failing_on
from fund_ledger.serving import LOG_LEVELS, _check_address
from ledger.domain.errors import LedgerError
from ledger.store.kek import KEK_ENV, kek_file, load_kek

district_app = typer.Typer(
    help="Many funds served from one process (docs/scaling.md).", no_args_is_help=True
)


@district_app.command("serve")
def serve_district(
    source: Annotated[
        str,
        typer.Argument(
            help="A TOML file of \\[funds.NAME] tables (database_url, signing_key_file), or a "
            "PostgreSQL URL whose every fund schema is a fund of that name."
        ),
    ],
    keys: Annotated[
        Path, typer.Option(help="Folder of the funds' signing keys, NAME.key each.")
    ] = Path(),
    open_max: Annotated[
        int, typer.Option(min=1, max=200, help="Most funds open at once; the least used close.")
    ] = OPEN_MAX,
    pool_max: Annotated[
        int, typer.Option(min=2, max=20, help="Most connections of one open fund.")
    ] = POOL_MAX,
    idle_close_s: Annotated[
        float, typer.Option(min=1, help="A fund without a request for this long is closed.")
    ] = IDLE_CLOSE_S,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[
        str, typer.Option(help="critical, error, warning, info or debug.")
    ] = "warning",
) -> None:
    """Serve many funds: /f/NAME/ is fund NAME's API and pages, opened on its first request;
    at most --open-max open, so at most --open-max × --pool-max connections are held."""
    import logging

    import uvicorn

    from api.district import Directory, District

    if not 0 < port < 65536:
        raise fail(f"--port must be a port number from 1 to 65535, not {port}")
    if log_level not in LOG_LEVELS:
        raise fail(f"--log-level is one of {', '.join(LOG_LEVELS)}")
    _check_address(host, port)
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    settings = Settings()
    with failing_on(ValueError, OSError, LedgerError):
        settings.proxy_networks()
        directory = Directory.read(source, keys)
        # Every fund's personal data is sealed under it: a district without it could serve
        # the books but refuse every write that records a person.
        if load_kek(os.environ) is None:
            raise fail(
                f"{KEK_ENV} is not set and {kek_file(os.environ)} does not exist: the funds' "
                "personal data is sealed under it (fund-ledger keys init-kek)"
            )
    district = District(
        directory, settings, open_max=open_max, pool_max=pool_max, idle_close_s=idle_close_s
    )
    typer.echo(
        f"serving a district on http://{host}:{port}/f/NAME/ "
        f"(at most {open_max} funds open, {district.connections_max} connections)",
        err=True,
    )
    uvicorn.run(district, host=host, port=port, log_level=log_level, proxy_headers=False)
