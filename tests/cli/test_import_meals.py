"""``fund-ledger import meals``: every bad row reported and nothing recorded, the corrected
file settled once, the same file again recording nothing; no card number in any output."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from canteen import ELDERS, MONTH, UNDER_60, Canteen, bad_rows, csv_of, good_rows, open_canteen
from helpers import build_world
from typer.testing import CliRunner

from fund_ledger.cli import app as cli
from ledger.app import FundLedger


@pytest.fixture
def canteen(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Canteen]:
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store_url)
    ledger = FundLedger(store_url)
    yield open_canteen(build_world(ledger))
    ledger.close()


def _import(canteen: Canteen, path: Path, *more: str):  # type: ignore[no-untyped-def]
    args = ["import", "meals", str(path), "--month", MONTH, "--as", canteen.world.treasurer.name]
    return CliRunner().invoke(cli, [*args, *more])


def test_bad_rows_reported_nothing_recorded_then_settled_once(
    canteen: Canteen, tmp_path: Path
) -> None:
    app = canteen.app
    before = app.position()
    bad = bad_rows()
    path = tmp_path / "april-bad.csv"
    path.write_bytes(csv_of([*good_rows(), *bad.values()]))
    refused = _import(canteen, path)
    assert refused.exit_code == 1, refused.output
    for index, kind in enumerate(bad):
        assert f"line {len(good_rows()) + 2 + index}: {kind}" in refused.output, kind
    assert f"{len(bad)} bad rows: nothing recorded" in refused.output
    for _name, born, card in [*ELDERS.values(), UNDER_60]:
        assert card not in refused.output
        assert born.isoformat() not in refused.output
    assert app.position() == before

    good = tmp_path / "april.csv"
    good.write_bytes(csv_of(good_rows()))
    settled = _import(canteen, good)
    assert settled.exit_code == 0, settled.output
    assert f"settled {MONTH}: 7 meals, 4 people, subsidy 37.00 yuan" in settled.output
    after = app.position()
    assert after > before

    again = _import(canteen, good)
    assert again.exit_code == 0, again.output
    assert "already settled from this file: nothing recorded" in again.output
    assert app.position() == after
