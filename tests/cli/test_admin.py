"""Read-only access to the views for the expert panel's own SQL tools (PostgreSQL)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from typer.testing import CliRunner

from fund_ledger.cli import app
from ledger.app import FundLedger
from ledger.demo import load_demo
from projections.admin import PERSONAL_TABLES
from projections.runner import Views
from projections.sqlview.base import table_names


@pytest.mark.postgres
def test_grant_readonly_lets_a_role_read_the_views_but_not_contacts_or_events(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = FundLedger(postgres_url)
    load_demo(ledger)
    Views(ledger).catch_up()
    ledger.close()
    schema = parse_qs(urlsplit(postgres_url).query)["schema"][0]
    base = postgres_url.split("?", maxsplit=1)[0]
    role = f"panel_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", postgres_url)
        result = CliRunner().invoke(app, ["db", "grant-readonly", role])
        assert result.exit_code == 0, result.output
        panel_url = base.replace("postgres@", f"{role}@", 1)
        with psycopg.connect(panel_url, autocommit=True) as panel:
            count = panel.execute(f'SELECT COUNT(*) FROM "{schema}".fl_donations').fetchone()
            assert count is not None
            assert count[0] > 50
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                panel.execute(f'SELECT * FROM "{schema}".fl_donor_contacts')
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                panel.execute(f'SELECT * FROM "{schema}".fundledger_events')
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_grant_readonly_explains_that_sqlite_has_no_roles(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(app, ["db", "grant-readonly", "panel"])
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output


# Tables the demo year leaves empty: the attendance records (people served) come with the
# canteen; nobody in it has answered an opinion or explained a warning yet.
EMPTY_AFTER_DEMO = frozenset({"fl_people_served", "fl_opinion_notes", "fl_explanations"})


@pytest.mark.postgres
def test_after_the_demo_command_a_readonly_role_sees_every_view_filled(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fund-ledger demo` leaves the views caught up before it exits: no rebuild, no runner."""
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", postgres_url)
    demo = CliRunner().invoke(app, ["demo"])
    assert demo.exit_code == 0, demo.output
    schema = parse_qs(urlsplit(postgres_url).query)["schema"][0]
    base = postgres_url.split("?", maxsplit=1)[0]
    role = f"panel_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        granted = CliRunner().invoke(app, ["db", "grant-readonly", role])
        assert granted.exit_code == 0, granted.output
        ledger = FundLedger(postgres_url)
        views = Views(ledger)
        tables = [
            f"{view.sql(t)}"
            for spec in views.specs
            for view in [views.view(spec.name)]
            for t in table_names(view.ddl)
            if t.replace("{t}", "") not in PERSONAL_TABLES
        ]
        assert all(views.position(spec.name) == ledger.position() for spec in views.specs)
        views.close()
        ledger.close()
        panel_url = base.replace("postgres@", f"{role}@", 1)
        empty = []
        with psycopg.connect(panel_url, autocommit=True) as panel:
            for table in tables:
                row = panel.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()
                assert row is not None
                if not row[0]:
                    empty.append(table.rsplit(".", 1)[-1].strip('"'))
        assert schema
        assert len(tables) > 10
        assert set(empty) <= EMPTY_AFTER_DEMO, empty
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')
