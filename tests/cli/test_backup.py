"""Backup, restore and migration keep the books and their signed history exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fund_ledger.cli import app
from ledger.app import FundLedger
from ledger.demo import load_demo
from ledger.log.notes import Signer
from projections.audit import check_store
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views


def _signed_demo(url: str, signer: Signer) -> tuple[bytes, dict[str, object]]:
    ledger = FundLedger(url)
    load_demo(ledger)
    views = Views(ledger)
    views.catch_up()
    log = Log(views.view("log"), signer.name)
    signed = log.sign(signer)
    assert signed is not None
    summary = Reader(views).summary().as_json()
    ledger.close()
    return signed.root, summary


def _reopened(url: str, signer: Signer) -> tuple[FundLedger, Views, Log]:
    ledger = FundLedger(url)
    views = Views(ledger)
    views.catch_up()
    return ledger, views, Log(views.view("log"), signer.name)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_backup_then_restore_into_an_empty_store_gives_the_same_root_and_summary(
    store_url: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    signer = Signer.generate("test.example/backup")
    root, summary = _signed_demo(store_url, signer)
    file = tmp_path / f"backup{suffix}"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store_url)
    assert CliRunner().invoke(app, ["backup", str(file)]).exit_code == 0

    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", target)
    result = CliRunner().invoke(app, ["restore", str(file)])
    assert result.exit_code == 0, result.output
    ledger, views, log = _reopened(target, signer)
    checkpoint = log.checkpoint()
    assert checkpoint is not None
    assert checkpoint.root == root
    assert log.root(checkpoint.size) == root
    assert Reader(views).summary().as_json() == summary
    assert check_store(ledger, log, signer.verifier) == checkpoint.size
    # A restore never overwrites: the store is no longer empty.
    again = CliRunner().invoke(app, ["restore", str(file)])
    assert again.exit_code == 2
    assert "not empty" in again.output
    ledger.close()


def test_a_backup_cut_short_restores_nothing(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = Signer.generate("test.example/backup")
    _signed_demo(sqlite_url, signer)
    file = tmp_path / "backup.jsonl"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", sqlite_url)
    assert CliRunner().invoke(app, ["backup", str(file)]).exit_code == 0
    lines = file.read_text().splitlines(keepends=True)
    file.write_text("".join(lines[: len(lines) // 2]))
    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", target)
    result = CliRunner().invoke(app, ["restore", str(file)])
    assert result.exit_code == 2
    assert "incomplete" in result.output
    assert FundLedger(target).position() == 0


@pytest.mark.postgres
def test_migrate_from_sqlite_to_postgresql_keeps_the_root_and_the_summary(
    sqlite_url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = Signer.generate("test.example/migrate")
    root, summary = _signed_demo(sqlite_url, signer)
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(app, ["migrate", "--to", postgres_url])
    assert result.exit_code == 0, result.output
    ledger, views, log = _reopened(postgres_url, signer)
    checkpoint = log.checkpoint()
    assert checkpoint is not None
    assert checkpoint.root == root
    assert Reader(views).summary().as_json() == summary
    assert check_store(ledger, log, signer.verifier) == checkpoint.size
    ledger.close()
