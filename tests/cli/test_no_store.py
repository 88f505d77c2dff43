"""A command that reads the books never makes a store: in an empty folder (or an empty
PostgreSQL schema) it says in one line that there is none and what to run, and leaves nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from fund_ledger.cli import app
from ledger.log.notes import Signer

READERS = {
    "summary": ["summary"],
    "summary --json": ["summary", "--json"],
    "report": ["report", "balance-sheet"],
    "statements": ["report", "statements", "--year", "2026"],
    "export": ["export", "beancount"],
    "export csv": ["export", "donations.csv", "--out", "donations.csv"],
    "export statements": ["export", "statements", "--year", "2026", "--out", "s.xlsx"],
    "audit bundle": ["export", "audit-bundle", "audit"],
    "verify --store": ["verify", "--store"],
    "projections status": ["projections", "status"],
    "projections rebuild": ["projections", "rebuild"],
    "projections run": ["projections", "run"],
    "users list": ["users", "list"],
    "users add": ["users", "add", "--name", "某人", "--role", "treasurer"],
    "users token": ["users", "token", "--name", "某人"],
    "users revoke": ["users", "revoke", "--name", "某人"],
    "log checkpoint": ["log", "checkpoint"],
    "backup": ["backup", "fund.jsonl.gz"],
    "forget": ["forget", "00000000-0000-0000-0000-000000000000"],
    "rotate-kek": ["keys", "rotate-kek", "--new-file", "new.kek"],
    "import": ["import", "donations", "gifts.csv", "--as", "某人"],
    "migrate": ["migrate", "--to", "sqlite:///copy.sqlite3"],
}


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder with only what a command needs besides a store: a key and a CSV."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.delenv("FUND_LEDGER_DATABASE_URL", raising=False)
    key = tmp_path / "signing.key"
    key.write_text(Signer.generate("example.org/fund").encode() + "\n")
    monkeypatch.setenv("FUND_LEDGER_SIGNING_KEY_FILE", str(key))
    (tmp_path / "gifts.csv").write_text("donor_id,amount,received_on,channel\n")
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize("args", READERS.values(), ids=READERS.keys())
def test_in_an_empty_folder_a_reader_says_there_is_no_store_and_makes_none(
    empty: Path, args: list[str]
) -> None:
    args = [a if a != "gifts.csv" else str(empty.parent / a) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    store = empty / "fund-ledger.sqlite3"
    assert result.stderr.splitlines() == [
        f"error: no store at {store}; run fund-ledger init or demo "
        "(or set FUND_LEDGER_DATABASE_URL)"
    ]
    assert list(empty.iterdir()) == []


@pytest.mark.postgres
def test_in_an_empty_postgresql_schema_a_reader_makes_no_table(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", postgres_url)
    result = CliRunner().invoke(app, ["summary"])
    assert result.exit_code == 2, result.output
    assert "no store at PostgreSQL" in result.stderr
    assert "run fund-ledger init or demo" in result.stderr
    base, query = postgres_url.split("?", 1)
    schema = query.split("schema=", 1)[1].split("&", 1)[0]
    with psycopg.connect(base) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchone()
    assert tables == (0,)


@pytest.mark.parametrize("content", [b"garbage\n", b"\x1f\x8b not gzip", b'{"format": "x"}\n'])
def test_restoring_a_file_that_is_no_backup_makes_no_store(empty: Path, content: bytes) -> None:
    (empty.parent / "fund.jsonl.gz").write_bytes(content)
    result = CliRunner().invoke(app, ["restore", str(empty.parent / "fund.jsonl.gz")])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {empty.parent / 'fund.jsonl.gz'}: not a fund-ledger backup "
        '(its first line is not {"format": "fund-ledger/backup/v1"})'
    ]
    assert list(empty.iterdir()) == []


def test_init_makes_the_store_the_readers_then_find(empty: Path) -> None:
    made = CliRunner().invoke(app, ["init", "--name", "南湖未来社区共富基金", "--quorum", "1"])
    assert made.exit_code == 0, made.output
    assert (empty / "fund-ledger.sqlite3").exists()
    summary = CliRunner().invoke(app, ["summary", "--json"])
    assert summary.exit_code == 0, summary.output
    assert '"events"' in summary.stdout
