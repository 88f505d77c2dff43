"""`fund-ledger serve` on PostgreSQL: the API processes (one, or two with `--workers 2`) and one
views worker.

The API processes keep no views: each write waits for the views worker's announcement of the
position it reached (``projections.runner.announce_positions``). Every promise of one process
holds across them: a gift answered is in the views at once (read-your-writes), an idempotency
key replays whichever process answers it, a token revoked elsewhere writes nothing, and the
views worker is started again when it dies, the views then catching up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import httpx
import pytest
from helpers import DAY, World
from processes import START_TIMEOUT_S, wait_until
from test_crash_server import free_port

from ledger.app import OPERATOR

pytestmark = pytest.mark.postgres

GIFTS = 40


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def _command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _serve(
    world: World, postgres_url: str, tmp_path: Path, *options: str
) -> tuple[subprocess.Popen[bytes], str, dict[str, str], str, IO[bytes]]:
    """`fund-ledger serve` on the world's store: the process, its URL, the treasurer's
    headers, a donor, and the open log file (closed by the caller)."""
    token = world.app.reissue_token(OPERATOR, world.treasurer.name)[1]
    world.app.close()
    port = free_port()
    env = {**os.environ, "FUND_LEDGER_DATABASE_URL": postgres_url}
    env["FUND_LEDGER_SIGNING_KEY_FILE"] = str(tmp_path / "none.key")
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "fund_ledger", "serve", "--port", str(port), *options],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    headers = {"Authorization": f"Bearer {token}"}
    donor = world.donors[next(iter(world.donors))]
    return server, f"http://127.0.0.1:{port}", headers, donor, log


def _wait_up(client: httpx.Client, what: str) -> None:
    def up() -> bool:
        try:
            return client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(up, START_TIMEOUT_S, f"{what} to answer")


def test_two_api_processes_keep_every_promise(
    world: World, postgres_url: str, tmp_path: Path
) -> None:
    server, base, headers, donor, log = _serve(world, postgres_url, tmp_path, "--workers", "2")
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=20.0) as client:
            _wait_up(client, "serve --workers 2")
            commands = [_command_line(p) for p in _children(server.pid)]
            assert any("projections run" in c for c in commands), commands

            def give(i: int) -> tuple[int, str, bool]:
                body = {
                    "donor_id": donor,
                    "amount": f"{i + 1}.00",
                    "received_on": DAY.isoformat(),
                    "channel": "wechat_pay",
                    "receipt_no": f"W2-{i:03d}",
                }
                with httpx.Client(base_url=base, headers=headers, timeout=20.0) as own:
                    answer = own.post(
                        "/v1/donations", json=body, headers={"Idempotency-Key": f"k{i}"}
                    )
                    listed = own.get("/v1/donations", params={"limit": 200}).json()["items"]
                seen = body["receipt_no"] in {item["receipt_no"] for item in listed}
                return answer.status_code, answer.text, seen

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(give, range(GIFTS)))
            assert all(status == 201 for status, _, _ in answers), answers
            # Read-your-writes across processes: each gift was listed right after its answer.
            assert all(seen for _, _, seen in answers), answers
            health = client.get("/healthz").json()
            assert health["status"] == "ok", health
            assert health["listening"] is True, health

            # The same key, whichever process answers, replays the first answer.
            body = {
                "donor_id": donor,
                "amount": "1.00",
                "received_on": DAY.isoformat(),
                "channel": "wechat_pay",
                "receipt_no": "W2-000",
            }
            replays = {
                client.post("/v1/donations", json=body, headers={"Idempotency-Key": "k0"}).json()[
                    "replayed"
                ]
                for _ in range(6)
            }
            assert replays == {True}

            # The views worker killed: serve starts it again, and the views catch up.
            views_worker = next(
                p for p in _children(server.pid) if "projections run" in _command_line(p)
            )
            os.kill(views_worker, signal.SIGKILL)
            wait_until(
                lambda: any(
                    "projections run" in _command_line(p) and p != views_worker
                    for p in _children(server.pid)
                ),
                START_TIMEOUT_S,
                "the views worker to be started again",
            )
            late = body | {"receipt_no": "W2-late", "amount": "7.00"}
            written = client.post("/v1/donations", json=late)
            assert written.status_code == 201, written.text
            listed = client.get("/v1/donations", params={"limit": 200}).json()["items"]
            assert "W2-late" in {item["receipt_no"] for item in listed}
            total = sum(i + 1 for i in range(GIFTS)) + 7
            summary = client.get("/v1/summary").json()
            assert summary["received_total"] == f"{total}.00", summary
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    # Stopping serve stops its views worker too: nothing of it is left running.
    time.sleep(0.5)
    assert not _children(server.pid)


def test_one_api_process_keeps_its_views_apart_and_they_end_with_it(
    world: World, postgres_url: str, tmp_path: Path
) -> None:
    """Plain `serve` on PostgreSQL: one API process, the views in a worker of their own. A gift
    is answered once durable and the next read waits for its views; the worker ends with the
    server even when the server is killed and cannot stop it."""
    server, base, headers, donor, log = _serve(world, postgres_url, tmp_path)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=20.0) as client:
            _wait_up(client, "serve")
            workers = [p for p in _children(server.pid) if "projections run" in _command_line(p)]
            assert len(workers) == 1, [_command_line(p) for p in _children(server.pid)]
            for i in range(10):
                body = {
                    "donor_id": donor,
                    "amount": f"{i + 1}.00",
                    "received_on": DAY.isoformat(),
                    "channel": "wechat_pay",
                    "receipt_no": f"W1-{i:03d}",
                }
                written = client.post("/v1/donations", json=body)
                assert written.status_code == 201, written.text
                listed = client.get("/v1/donations", params={"limit": 200}).json()["items"]
                assert body["receipt_no"] in {item["receipt_no"] for item in listed}
            summary = client.get("/v1/summary").json()
            assert summary["received_total"] == "55.00", summary
    finally:
        server.kill()  # SIGKILL: serve cannot stop its worker
        server.wait(timeout=20)
        log.close()
    worker = workers[0]
    wait_until(
        lambda: (
            not Path(f"/proc/{worker}").exists()
            or " Z " in Path(f"/proc/{worker}/stat").read_text()
        ),
        START_TIMEOUT_S,
        "the views worker to end after its server",
    )
