"""Secrets at rest: the store's files private, the per-person keys only wrapped under a KEK that
is not in the database, backups that open no name alone, keys overwritten when destroyed."""

from __future__ import annotations

import base64
import gzip
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from helpers import DAY, build_world, fen
from typer.testing import CliRunner

from fund_ledger.cli import app as cli
from ledger.app import OPERATOR, FundLedger
from ledger.domain.errors import KeyEncryptionKeyMissing, WrongKeyEncryptionKey
from ledger.domain.sealing import is_sealed
from ledger.log.notes import Signer
from ledger.store.kek import KEK_ENV, KEK_FILE_ENV
from projections.log.queries import Log
from projections.reader import Reader
from projections.runner import Views

NAME = "司马青云"
PHONE = "13987654321"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v1"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw_files(db: Path) -> bytes:
    """Every byte SQLite keeps for the store: the file, its WAL and its shared memory."""
    return b"".join(
        p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()
    )


def key_forms(key: bytes) -> list[bytes]:
    return [key, key.hex().encode(), base64.b64encode(key)]


@pytest.fixture
def other_kek() -> str:
    """Another machine's KEK."""
    return base64.b64encode(os.urandom(32)).decode()


def _fund(url: str) -> tuple[FundLedger, str]:
    app = FundLedger(url)
    world = build_world(app)
    donor = app.register_donor(world.treasurer, NAME, "individual", "masked", {"phone": PHONE})
    app.record_donation(world.treasurer, donor.id, fen("88.00"), DAY, "cash", "S-1")
    return app, donor.id


def test_a_fresh_store_and_its_wal_are_private_in_a_private_folder(tmp_path: Path) -> None:
    os.umask(0o022)
    db = tmp_path / "new-folder" / "store.sqlite3"
    app, _donor = _fund(f"sqlite:///{db}")
    views = Views(app)
    views.catch_up()
    assert Path(f"{db}-wal").exists()
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert mode(path) == 0o600, path
    assert mode(db.parent) == 0o700
    views.close()
    app.close()


def test_a_store_made_readable_by_older_code_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    sqlite3.connect(db).close()
    db.chmod(0o644)
    FundLedger(f"sqlite:///{db}").close()
    assert mode(db) == 0o600


def test_neither_the_database_nor_a_backup_holds_a_key_or_a_name_in_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_kek: str
) -> None:
    db = tmp_path / "store.sqlite3"
    url = f"sqlite:///{db}"
    app, donor = _fund(url)
    views = Views(app)
    views.catch_up()
    signer = Signer.generate("test.example/at-rest")
    signed = Log(views.view("log"), signer.name).sign(signer)
    assert signed is not None
    summary = Reader(views).summary().as_json()
    [key] = app.keyring.keys([donor]).values()
    assert key is not None
    [row] = [k for k in app.keyring.all() if k.person_id == donor]
    assert row.key_wrapped is not None
    assert row.key_wrapped.startswith("kek1:")
    stored = raw_files(db)
    assert not any(form in stored for form in key_forms(key))
    assert NAME.encode() not in stored
    assert PHONE.encode() not in stored

    backup = tmp_path / "fund.jsonl.gz"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["backup", str(backup)])
    assert result.exit_code == 0, result.output
    assert mode(backup) == 0o600
    text = gzip.decompress(backup.read_bytes())
    assert not any(form in text for form in key_forms(key))
    assert NAME.encode() not in text
    assert PHONE.encode() not in text
    views.close()
    app.close()

    # On another machine: without the KEK, or with another, the backup loads nothing.
    target = f"sqlite:///{tmp_path / 'elsewhere' / 'store.sqlite3'}"
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", target)
    monkeypatch.chdir(tmp_path)
    own_kek = os.environ[KEK_ENV]
    monkeypatch.delenv(KEK_ENV)
    monkeypatch.setenv(KEK_FILE_ENV, str(tmp_path / "no-such.kek"))
    refused = CliRunner().invoke(cli, ["restore", str(backup)])
    assert refused.exit_code == 2
    [line] = [line for line in refused.output.splitlines() if not line.startswith("restoring")]
    assert line.startswith("error: ")
    assert "key-encryption key" in line
    monkeypatch.setenv(KEK_ENV, other_kek)
    refused = CliRunner().invoke(cli, ["restore", str(backup)])
    assert refused.exit_code == 2
    assert "wrapped under key-encryption key" in refused.output
    assert FundLedger(target).position() == 0

    # With it: the same root, the same figures, the names.
    monkeypatch.setenv(KEK_ENV, own_kek)
    restored = CliRunner().invoke(cli, ["restore", str(backup)])
    assert restored.exit_code == 0, restored.output
    again = FundLedger(target)
    views = Views(again)
    views.catch_up()
    log = Log(views.view("log"), signer.name)
    assert log.root(signed.size) == signed.root
    assert Reader(views).summary().as_json() == summary
    statement = Reader(views).donor_statement(donor)
    assert statement is not None
    assert statement["donor"]["name"] == NAME
    views.close()
    again.close()


def _old_store(folder: Path) -> Path:
    db = folder / "store.sqlite3"
    with gzip.open(FIXTURE / "store.sqlite3.gz", "rb") as packed, db.open("wb") as out:
        shutil.copyfileobj(packed, out)
    db.chmod(0o644)
    return db


def test_an_old_store_asks_for_the_kek_in_one_line_then_has_its_keys_wrapped_without_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _old_store(tmp_path)
    with sqlite3.connect(db) as plain:
        old_keys = [row[0] for row in plain.execute("SELECT key_hex FROM fl_person_keys")]
    assert len(old_keys) == 3  # two donors and the individual payee
    own_kek = os.environ[KEK_ENV]
    monkeypatch.delenv(KEK_ENV)
    monkeypatch.setenv(KEK_FILE_ENV, str(tmp_path / "no-such.kek"))
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", f"sqlite:///{db}")
    result = CliRunner().invoke(cli, ["summary"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert result.output.count("\n") == 1
    assert "key-encryption key" in result.output
    with pytest.raises(KeyEncryptionKeyMissing):
        FundLedger(f"sqlite:///{db}")

    monkeypatch.setenv(KEK_ENV, own_kek)
    app = FundLedger(f"sqlite:///{db}")
    views = Views(app)
    views.catch_up()
    reader = Reader(views)
    donors = reader.registers_view.query("SELECT donor_id FROM {t}fl_donors")
    statements = [reader.donor_statement(d["donor_id"]) for d in donors]
    assert {s["donor"]["name"] for s in statements if s} == {"张伟", "杨丽", "南湖宾馆"}
    assert mode(db) == 0o600
    stored = raw_files(db)
    assert not any(key.encode() in stored for key in old_keys)
    assert all(k.key_wrapped and k.key_wrapped.startswith("kek1:") for k in app.keyring.all())
    views.close()
    app.close()


def test_a_backup_made_before_keys_were_wrapped_restores_them_wrapped(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = store_url
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", target)
    result = CliRunner().invoke(cli, ["restore", str(FIXTURE / "backup.jsonl.gz")])
    assert result.exit_code == 0, result.output
    app = FundLedger(target)
    assert all(k.key_wrapped and k.key_wrapped.startswith("kek1:") for k in app.keyring.all())
    registered = [e for _, e in app.iter_events() if type(e).__qualname__ == "Donor.Registered"]
    names = app.keyring.reveal([e.name for e in registered])
    assert set(names) == {"张伟", "杨丽", "南湖宾馆"}
    app.close()


@pytest.mark.postgres
def test_an_old_key_table_on_postgresql_is_wrapped_in_place(postgres_url: str) -> None:
    """The table as the previous code made it, with a plain key: wrapped at the next opening."""
    app = FundLedger(postgres_url)
    datastore = app.recorder.datastore  # type: ignore[attr-defined]
    table = f'"{datastore.schema}".fl_person_keys'
    key = os.urandom(32)
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(f"DROP TABLE {table}")
        cursor.execute(
            f"CREATE TABLE {table} (person_id TEXT PRIMARY KEY, key_hex TEXT,"
            " created_at TEXT NOT NULL, forgotten_at TEXT)"
        )
        cursor.execute(
            f"INSERT INTO {table} VALUES ('p-1', %s, '2026-01-01T00:00:00+00:00', NULL)",
            (key.hex(),),
        )
    app.close()
    reopened = FundLedger(postgres_url)
    assert reopened.keyring.keys(["p-1"]) == {"p-1": key}
    [row] = reopened.keyring.all()
    assert row.key_wrapped is not None
    assert row.key_wrapped.startswith("kek1:")
    with reopened.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"SELECT key_hex FROM {table}")
        assert cursor.fetchone()["key_hex"] is None
    reopened.close()


def test_rotating_the_kek_keeps_every_name_and_the_old_kek_opens_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    app, _donor = _fund(url)
    sealed = [e.name for _, e in app.iter_events() if type(e).__qualname__ == "Donor.Registered"]
    sealed = [name for name in sealed if is_sealed(name)]
    app.close()
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", url)
    new_file = tmp_path / "new.kek"
    result = CliRunner().invoke(cli, ["keys", "rotate-kek", "--new-file", str(new_file)])
    assert result.exit_code == 0, result.output
    assert mode(new_file) == 0o600
    old = FundLedger(url)
    with pytest.raises(WrongKeyEncryptionKey):
        old.keyring.reveal(sealed)
    old.close()
    monkeypatch.delenv(KEK_ENV)
    monkeypatch.setenv(KEK_FILE_ENV, str(new_file))
    rotated = FundLedger(url)
    assert rotated.keyring.reveal(sealed) == ["赵先生", NAME]
    rotated.close()


def test_init_makes_a_kek_for_a_fresh_store_and_never_a_second_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(KEK_ENV)
    monkeypatch.delenv(KEK_FILE_ENV, raising=False)
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    result = CliRunner().invoke(cli, ["init", "--name", "新基金", "--quorum", "1"])
    assert result.exit_code == 0, result.output
    kek = tmp_path / "fund-ledger.kek"
    assert mode(kek) == 0o600
    assert "fund-ledger.kek" in result.output
    again = CliRunner().invoke(cli, ["keys", "init-kek"])
    assert again.exit_code == 2
    app = FundLedger(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    app.add_user(OPERATOR, "出纳", "treasurer")
    treasurer = app.actor_named("出纳")
    donor = app.register_donor(treasurer, NAME, "individual", "masked").id
    assert app.keyring.keys([donor])[donor] is not None
    app.close()


def test_forget_overwrites_the_destroyed_key_before_it_answers(store_url: str) -> None:
    """Neither the file nor its WAL keeps the key's old bytes (SQLite); the key table is
    rewritten, leaving no dead row version behind (PostgreSQL)."""
    app, donor = _fund(store_url)
    views = Views(app)
    views.catch_up()  # other connections to the same file, reading, as in a server
    [row] = [k for k in app.keyring.all() if k.person_id == donor]
    assert row.key_wrapped is not None
    key = app.keyring.keys([donor])[donor]
    assert key is not None
    datastore = app.recorder.datastore  # type: ignore[attr-defined]
    postgres = hasattr(datastore, "schema")
    if postgres:
        before = _relfilenode(datastore)
    else:
        db = Path(store_url.removeprefix("sqlite:///"))
        assert row.key_wrapped.encode() in raw_files(db)
    app.forget_person(OPERATOR, donor)
    if postgres:
        assert _relfilenode(datastore) != before
    else:
        stored = raw_files(db)
        assert row.key_wrapped.encode() not in stored
        assert not any(form in stored for form in key_forms(key))
        assert Path(f"{db}-wal").stat().st_size == 0
    views.close()
    app.close()


def _relfilenode(datastore: object) -> int:
    with datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            "SELECT relfilenode FROM pg_class WHERE oid = %s::regclass",
            (f'"{datastore.schema}".fl_person_keys',),  # type: ignore[attr-defined]
        )
        return int(cursor.fetchone()["relfilenode"])
