"""The signing key's file: made 0600 whatever was there, never written through a symlink."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fund_ledger.cli import app
from ledger.log.notes import Signer


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "signing.key"
    monkeypatch.setenv("FUND_LEDGER_SIGNING_KEY_FILE", str(path))
    return path


def test_keys_init_makes_the_key_only_its_owner_may_read(key_file: Path) -> None:
    result = CliRunner().invoke(app, ["keys", "init"])
    assert result.exit_code == 0, result.output
    assert _mode(key_file) == 0o600
    Signer.decode(key_file.read_text())
    # Without --force an existing key is kept.
    again = CliRunner().invoke(app, ["keys", "init"])
    assert again.exit_code == 2
    assert "exists" in again.output


def test_keys_init_force_replaces_a_readable_key_with_a_private_one(key_file: Path) -> None:
    key_file.write_text("old\n")
    key_file.chmod(0o644)
    result = CliRunner().invoke(app, ["keys", "init", "--force"])
    assert result.exit_code == 0, result.output
    assert _mode(key_file) == 0o600
    assert key_file.read_text() != "old\n"


@pytest.mark.parametrize("force", [False, True], ids=["new", "force"])
def test_keys_init_refuses_a_symlink_and_writes_nothing_through_it(
    key_file: Path, tmp_path: Path, force: bool
) -> None:
    target = tmp_path / "somewhere-else"
    target.write_text("precious\n")
    target.chmod(0o644)
    key_file.symlink_to(target)
    result = CliRunner().invoke(app, ["keys", "init", *(["--force"] if force else [])])
    assert result.exit_code == 2
    assert "symlink" in result.output
    assert target.read_text() == "precious\n"
    assert key_file.is_symlink()
    # The public key's file is not written through a link either.
    public = key_file.with_suffix(".pub")
    assert not public.exists()


def test_keys_init_refuses_a_symlink_where_the_public_key_goes(
    key_file: Path, tmp_path: Path
) -> None:
    target = tmp_path / "somewhere-else"
    target.write_text("precious\n")
    key_file.with_suffix(".pub").symlink_to(target)
    result = CliRunner().invoke(app, ["keys", "init"])
    assert result.exit_code == 2
    assert "symlink" in result.output
    assert target.read_text() == "precious\n"
    assert not key_file.exists()
