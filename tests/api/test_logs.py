"""No token and no personal datum reaches a log, even at DEBUG, even when requests fail.

The service runs the demo (named residents with phones and addresses, anonymous donors) plus a
person added here with an e-mail address and an ID number, and answers a realistic round of
requests: lookups by receipt number, statements, exports, a token put in a query string by a
careless client, bad and revoked tokens, refusals (403, 404, 409, 413, 422), a store outage (503)
and a bug whose message names a person (500). Everything logged is kept: every logger at DEBUG
in-process, uvicorn's access log included, and what reaches the process's stdout and stderr;
then, separately, the stdout and stderr of ``fund-ledger serve --log-level debug``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import uvicorn
from eventsourcing.persistence import OperationalError

from api.app import create_app
from api.config import Settings
from ledger.app import OPERATOR, FundLedger
from ledger.demo import RESIDENTS, load_demo
from ledger.domain import today
from ledger.log.notes import Signer

# A person added through the API, with every kind of personal datum the fund may hold.
PERSON = {
    "name": "黎秀英",
    "phone": "13912345678",
    "email": "li.xiuying@example.cn",
    "address": "南湖区文昌路88号3幢201室",
    "id_number": "330402198503071228",
}
RECEIPT = "LXY-2026-0001"
NOTE = "黎秀英托邻居转交 / handed over by a neighbour"
# An individual the demo pays: auditors see the name, logs must not.
PAYEE = "王桂英"
PASSWORD = "pw-in-the-store-url-7d1e"
SERVER_START_POLLS_MAX = 200
SERVER_POLL_S = 0.05
# The test's own HTTP client logs the URLs it asks for; that is the caller's log, not ours.
CLIENT_LOGGERS = ("httpx", "httpcore")


@dataclass
class Secrets:
    """What must never be in a log, by kind."""

    kinds: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, *values: str) -> None:
        self.kinds.setdefault(kind, set()).update(values)

    def found_in(self, text: str) -> dict[str, list[str]]:
        """Each secret found, as written, URL-encoded (as in a request line) or JSON-escaped."""
        return {
            kind: found
            for kind, values in self.kinds.items()
            if (found := sorted(v for v in values if any(f in text for f in forms(v))))
        }


def forms(value: str) -> set[str]:
    return {value, quote(value), quote_plus(value), json.dumps(value)[1:-1]}


def demo_secrets(tokens: dict[str, str]) -> Secrets:
    secrets = Secrets()
    secrets.add("tokens", *tokens.values())
    secrets.add("personal names", PERSON["name"], PAYEE, *(name for name, _ in RESIDENTS))
    secrets.add("phones", PERSON["phone"], *(f"1390573{i:04d}" for i in range(len(RESIDENTS))))
    secrets.add("addresses", PERSON["address"], *(f"南湖未来社区{i + 1}幢" for i in range(3)))
    secrets.add("e-mail addresses", PERSON["email"])
    secrets.add("ID numbers", PERSON["id_number"])
    secrets.add("receipt numbers", RECEIPT)
    secrets.add("notes", NOTE)
    return secrets


def prepare_store(url: str) -> dict[str, str]:
    """The demo, a fresh treasurer, a revoked one; the tokens by who holds them."""
    ledger = FundLedger(url)
    try:
        users = load_demo(ledger)
        tokens = {name: token for name, (_, token) in users.tokens.items()}
        _, tokens["treasurer"] = ledger.add_user(OPERATOR, "日志出纳", "treasurer")
        _, tokens["revoked"] = ledger.add_user(OPERATOR, "离任出纳", "treasurer")
        ledger.revoke_user(OPERATOR, "离任出纳")
        # Not anyone's token, but a caller's typo of one must not be kept either.
        tokens["made-up"] = "fl_" + "7" * 40
    finally:
        ledger.close()
    return tokens


def exercise(base: str, tokens: dict[str, str], auditor: str, member: str) -> list[int]:
    """A day's worth of requests, good and bad; the statuses they got."""
    treasurer = {"Authorization": f"Bearer {tokens['treasurer']}"}
    statuses: list[int] = []
    with httpx.Client(base_url=base, timeout=30) as client:

        def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = client.request(method, path, **kwargs)
            statuses.append(response.status_code)
            return response

        contact = {k: v for k, v in PERSON.items() if k != "name"}
        person = {"name": PERSON["name"], "kind": "individual", "disclosure": "anonymous"}
        donor = call("POST", "/v1/donors", json=person | {"contact": contact}, headers=treasurer)
        assert donor.status_code == 201, donor.text
        donor_id = donor.json()["id"]
        gift = {"donor_id": donor_id, "amount": "200.00", "received_on": today().isoformat()}
        gift |= {"channel": "cash", "receipt_no": RECEIPT, "note": NOTE}
        assert call("POST", "/v1/donations", json=gift, headers=treasurer).status_code == 201
        assert call("POST", "/v1/donations", json=gift, headers=treasurer).status_code == 409
        bad = person | {"name": f"{PERSON['name']}\x00{PERSON['phone']}"}
        assert call("POST", "/v1/donors", json=bad, headers=treasurer).status_code == 422
        as_member = {"Authorization": f"Bearer {tokens[member]}"}
        assert call("POST", "/v1/donations", json=gift, headers=as_member).status_code == 403
        huge = {"name": PERSON["name"] * 10, "kind": "individual", "disclosure": "named"}
        huge["contact"] = {f"k{i}": PERSON["address"] * 10 for i in range(10)}
        call("POST", "/v1/donors", json=huge | {"x": "y" * 2_000_000}, headers=treasurer)

        for path in (
            f"/donations?receipt={RECEIPT}",
            f"/v1/donations?receipt_no={RECEIPT}",
            f"/v1/donors/{donor_id}/statement",
            f"/v1/donations?donor={PERSON['name']}&phone={PERSON['phone']}",
            f"/projects/{PERSON['name']}",
            f"/v1/donors/{PERSON['id_number']}/statement",
            "/v1/exports/donations.csv",
            "/",
        ):
            assert call("GET", path).status_code < 500, path
        # A careless client puts its token in the query string.
        call("GET", f"/v1/summary?access_token={tokens['treasurer']}")
        full = {"Authorization": f"Bearer {tokens[auditor]}"}
        for path in (f"/v1/donations?receipt_no={RECEIPT}", "/v1/events", "/v1/exports/beancount"):
            assert call("GET", path, headers=full).status_code == 200, path
        for header in (
            f"Bearer {tokens['made-up']}",
            f"Bearer {tokens['revoked']}",
            f"Basic {tokens['treasurer']}",
            f"Bearer {tokens['treasurer']}x",
        ):
            assert call("GET", "/v1/summary", headers={"Authorization": header}).status_code == 401
    return statuses


# -- in-process: every logger at DEBUG ----------------------------------------------------------


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):
            self.lines.append(self.format(record))


@pytest.fixture
def every_log() -> Iterator[Keep]:
    """Every logger open to every level (uvicorn's at debug, as ``serve --log-level debug``
    sets them), all propagating to one handler; restored after."""
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in list(root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.propagate, lg.disabled) for lg in loggers]
    saved_root = root.level
    keep = Keep()
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
        lg.propagate = True
        lg.disabled = False
    root.setLevel(1)
    root.addHandler(keep)
    try:
        yield keep
    finally:
        root.removeHandler(keep)
        root.setLevel(saved_root)
        for lg, level, propagate, disabled in saved:
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled


def serve_in_thread(url: str, key_file: Path) -> tuple[uvicorn.Server, threading.Thread, Any]:
    settings = Settings(
        database_url=url,
        signing_key_file=str(key_file),
        checkpoint_interval_s=0.1,
        request_body_bytes_max=1024 * 1024,
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, log_level="debug", access_log=True
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="log-test-server", daemon=True)
    thread.start()
    for _ in range(SERVER_START_POLLS_MAX):
        if server.started:
            return server, thread, app
        time.sleep(SERVER_POLL_S)
    pytest.fail("the server did not start")


def faults() -> list[Callable[..., Any]]:
    """Faults whose messages name a person, as a driver's or a bug's message may."""

    def outage(*_: Any, **__: Any) -> Any:
        raise OperationalError(f"connection lost while reading {PERSON['name']} {PERSON['phone']}")

    def bug(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"cannot format {PERSON['address']} of {PERSON['id_number']}")

    return [outage, bug]


def test_nothing_secret_is_logged_in_process(
    store_url: str,
    tmp_path: Path,
    every_log: Keep,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The test server trusts local connections, so a password in the URL is carried, not needed.
    store_url = store_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
    tokens = prepare_store(store_url)
    key_file = tmp_path / "signing.key"
    key_file.write_text(Signer.generate("fund-ledger.test").encode())
    server, thread, app = serve_in_thread(store_url, key_file)
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        statuses = exercise(base, tokens, auditor="吴振华", member="苗宇浩")
        services = app.state.services
        with httpx.Client(base_url=base, timeout=30) as client:
            for fail in faults():
                with monkeypatch.context() as patch:
                    patch.setattr(services.reader, "donations", fail)
                    statuses.append(client.get("/v1/donations").status_code)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    out, err = capfd.readouterr()
    text = "\n".join([*every_log.lines, out, err])

    assert {401, 403, 404, 409, 413, 422, 503, 500} <= set(statuses), statuses
    # The search looks where the lines are: the access log and the service's own warnings.
    assert '"GET /v1/summary HTTP/1.1" 401' in text
    assert "store unavailable: OperationalError" in text
    secrets = demo_secrets(tokens)
    secrets.add("database passwords", PASSWORD)
    assert secrets.found_in(text) == {}


# -- a subprocess: `fund-ledger serve --log-level debug` -------------------------------------------


SERVE = [sys.executable, "-m", "fund_ledger", "serve"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_nothing_secret_reaches_the_servers_output(sqlite_url: str, tmp_path: Path) -> None:
    tokens = prepare_store(sqlite_url)
    key_file = tmp_path / "signing.key"
    key_file.write_text(Signer.generate("fund-ledger.test").encode())
    port = free_port()
    env = os.environ | {
        "FUND_LEDGER_DATABASE_URL": sqlite_url,
        "FUND_LEDGER_SIGNING_KEY_FILE": str(key_file),
        "FUND_LEDGER_REQUEST_BODY_BYTES_MAX": str(1024 * 1024),
    }
    output = tmp_path / "server.log"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [*SERVE, "--port", str(port), "--log-level", "debug"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(SERVER_START_POLLS_MAX):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(SERVER_POLL_S)
            else:
                pytest.fail("the server did not start")
            statuses = exercise(base, tokens, auditor="吴振华", member="苗宇浩")
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = output.read_text()

    assert {401, 403, 404, 409, 413, 422} <= set(statuses), statuses
    assert '"GET /v1/summary HTTP/1.1" 401' in text, text[-2000:]
    assert "DEBUG" in text
    leaks = demo_secrets(tokens).found_in(text)
    assert leaks == {}
