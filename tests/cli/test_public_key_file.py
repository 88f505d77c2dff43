"""The public key's file, fund-ledger-signing.pub, written beside the signing key by keys init
and by serve --demo, so that the README's ``verify --url ... --key "$(cat
fund-ledger-signing.pub)"`` works as written."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fund_ledger import serving
from fund_ledger.cli import app
from ledger.log.notes import Signer, Verifier


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``fund-ledger serve --demo`` in an empty folder, with nothing set, as the README has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUND_LEDGER_")}
    port = _free_port()
    with (tmp_path / "out").open("w") as out, (tmp_path / "err").open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "fund_ledger", "serve", "--demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=errors,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        # Up, and the log's first checkpoint signed (every 2 s by default).
        while not _up(f"{base}/v1/log/checkpoint"):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"serve --demo did not come up: {(tmp_path / 'err').read_text()}")
            time.sleep(0.25)
        yield base, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_demo_writes_the_pub_that_verify_reads_as_the_readme_has_it(
    demo_server: tuple[str, Path],
) -> None:
    base, folder = demo_server
    public = folder / "fund-ledger-signing.pub"
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / "fund-ledger-signing.key").stat().st_mode) == 0o600
    key = public.read_text().rstrip("\n")  # what "$(cat fund-ledger-signing.pub)" gives
    Verifier.decode(key)
    assert f"its public key in {public.name}" in (folder / "err").read_text()

    by_text = CliRunner().invoke(app, ["verify", "--url", base, "--key", key])
    by_file = CliRunner().invoke(app, ["verify", "--url", base, "--key", str(public)])

    for result in (by_text, by_file):
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("ok: ")
        assert "signed by fund-ledger.local/nanhu-demo" in result.stdout
    tokens = (folder / "out").read_text().splitlines()
    assert len(tokens) >= 5
    assert all(len(line.split("\t")) == 2 for line in tokens)


def test_a_kept_demo_key_gets_its_missing_pub_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "fund-ledger-signing.key"
    monkeypatch.setenv("FUND_LEDGER_SIGNING_KEY_FILE", str(key_file))
    signer = Signer.generate("example.org/fund")
    key_file.write_text(signer.encode() + "\n")

    serving._demo_signing_key(key_file)

    assert key_file.read_text() == signer.encode() + "\n"  # the key itself kept
    public = tmp_path / "fund-ledger-signing.pub"
    assert public.read_text() == signer.verifier.encode() + "\n"


def test_keys_init_prints_the_public_key_it_writes_beside_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_LEDGER_SIGNING_KEY_FILE", str(tmp_path / "fund-ledger-signing.key"))
    result = CliRunner().invoke(app, ["keys", "init", "--origin", "nanhu.example/fund"])
    assert result.exit_code == 0, result.output
    public = tmp_path / "fund-ledger-signing.pub"
    assert public.read_text() == result.stdout
    assert Verifier.decode(result.stdout).name == "nanhu.example/fund"
