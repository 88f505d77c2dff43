"""``fund-ledger district serve`` refuses, in one line and before listening, what it cannot
serve: a district file without funds, a URL naming a schema, no key-encryption key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fund_ledger.cli import app


def _refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    [line] = result.stderr.strip().splitlines()
    for word in words:
        assert word in line, line


def test_a_district_it_cannot_serve_is_refused_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "district.toml"
    empty.write_text("[other]\nx = 1\n", encoding="utf-8")
    unnamed = tmp_path / "unnamed.toml"
    unnamed.write_text('[funds.Nanhu]\ndatabase_url = "sqlite:///x"\n', encoding="utf-8")
    runner = CliRunner()
    _refused(runner.invoke(app, ["district", "serve", str(empty)]), "lists no funds")
    _refused(runner.invoke(app, ["district", "serve", str(unnamed)]), "funds.Nanhu", "lowercase")
    url = "postgresql://postgres@127.0.0.1/district?schema=nanhu"
    _refused(runner.invoke(app, ["district", "serve", url]), "not a schema")
    listed = tmp_path / "listed.toml"
    listed.write_text('[funds.nanhu]\ndatabase_url = "sqlite:///x"\n', encoding="utf-8")
    monkeypatch.delenv("FUND_LEDGER_KEK", raising=False)
    monkeypatch.setenv("FUND_LEDGER_KEK_FILE", str(tmp_path / "no.kek"))
    _refused(runner.invoke(app, ["district", "serve", str(listed)]), "no.kek", "init-kek")
