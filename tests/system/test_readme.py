"""The README runs as written: every ``sh`` block, in order, against a fresh ``serve --demo``.

A newcomer copies the blocks into a terminal; so does this test, with three differences only, each
needed to run beside other tests on one machine: the server listens on a free port instead of 8000
(every ``127.0.0.1:8000`` in a block points there), a block that starts ``DB=name`` gets a database
name of its own (dropped afterwards), and the environment holds no ``FUND_LEDGER_*`` setting of
the test run. The two install commands are not run here: CI runs the test one itself (and this
test checks that it is the README's), and the package is already installed the same way.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from databases import PG_ADMIN_URL, REQUIRE_POSTGRES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SERVE_COMMAND = "pip install . && fund-ledger serve --demo"
TEST_COMMAND = "pip install -e '.[test]' && pytest"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
BLOCK_TIMEOUT_S = 300
pytestmark = pytest.mark.postgres


def readme_blocks() -> list[str]:
    return [block.strip() for block in BLOCK.findall(README.read_text(encoding="utf-8"))]


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    blocks = readme_blocks()
    assert blocks[:2] == [SERVE_COMMAND, TEST_COMMAND]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"\n{TEST_COMMAND}\n" in ci


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_environment() -> dict[str, str]:
    """The environment of a newcomer's shell: this test run's settings left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUND_LEDGER_")}
    # The commands of the test's own virtual environment (fund-ledger, pip, bean-check) first.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _wait_until_up(base: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    process.kill()
    _, stderr = process.communicate()
    pytest.fail(f"`fund-ledger serve --demo` did not come up: {stderr.decode()[-2000:]}")


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """The README's first block, without its install: ``fund-ledger serve --demo`` in a folder."""
    port = _free_port()
    command = SERVE_COMMAND.removeprefix("pip install . && ") + f" --port {port}"
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=tmp_path,
        env=_clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_until_up(f"http://127.0.0.1:{port}", process, seconds=120)
    yield tmp_path, port
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def databases() -> Iterator[list[str]]:
    """Names of the databases the blocks create; dropped afterwards."""
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable at {PG_ADMIN_URL}: {error}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {error}")
    names: list[str] = []
    yield names
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            # Roles are the server's, not a database's: the README names them after their database.
            admin.execute(f'DROP ROLE IF EXISTS "{name}_panel"')


def _as_run_here(block: str, port: int, databases: list[str]) -> str:
    script = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    first, _, rest = script.partition("\n")
    if first.startswith("DB="):
        name = f"readme_{os.getpid()}_{len(databases)}"
        databases.append(name)
        script = f"DB={name}\n{rest}"
    return script


def test_every_sh_block_of_the_readme_runs_as_written(
    demo_server: tuple[Path, int], databases: list[str]
) -> None:
    folder, port = demo_server
    blocks = readme_blocks()[2:]
    assert len(blocks) >= 5, "the README lost its examples"
    for number, block in enumerate(blocks, start=3):
        script = _as_run_here(block, port, databases)
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=folder,
            env=_clean_environment(),
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
        said = f"README sh block {number}:\n{block}\n--- stdout\n{result.stdout[-3000:]}"
        said += f"\n--- stderr\n{result.stderr[-3000:]}"
        assert result.returncode == 0, said
        assert "Traceback" not in result.stderr, said
    # What the blocks did shows in the books: the API's gift, the import, a person forgotten.
    summary = subprocess.run(
        ["fund-ledger", "summary", "--json"],
        cwd=folder,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"received_total": "3020500.00"' in summary.stdout, summary.stdout
