"""Exports: bean-check agrees with the views, 360Giving validates, CSVs show only what they may."""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data, realization
from databases import new_postgres_url
from helpers import opened
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from ledger.app import OPERATOR, FundLedger
from ledger.demo import load_demo
from ledger.domain.disclosure import ANONYMOUS_ZH
from ledger.domain.money import parse_yuan
from ledger.domain.yuan import format_yuan
from projections.exports import ExportMoved, export_360giving, export_beancount, export_csv
from projections.reader import Reader
from projections.runner import Views

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "360giving"
BEAN_CHECK = Path(sys.executable).parent / "bean-check"
PUBLISHED_ON = date(2026, 11, 30)
BOM = "\ufeff".encode()
YUAN = re.compile(r"^\d+\.\d{2}$")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def reader(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reader]:
    """The demo year, loaded once per store for the whole module: the exports only read."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('exports') / 'demo.sqlite3'}"
    else:
        url = new_postgres_url(str(request.getfixturevalue("postgres_database")))
    ledger = FundLedger(url)
    load_demo(ledger)
    views = Views(ledger)
    views.catch_up()
    yield Reader(views)
    views.close()
    ledger.close()


@pytest.fixture(scope="module")
def journal(reader: Reader) -> str:
    return export_beancount(reader)


def registers(reader: Reader, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return opened(reader.views.ledger, reader.registers_view.query(sql, params or []))


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


# -- Beancount ---------------------------------------------------------------------------------


def test_the_journal_passes_bean_check_and_loads_without_errors(
    reader: Reader, journal: str, tmp_path: Path
) -> None:
    path = tmp_path / "fund.beancount"
    path.write_text(journal, encoding="utf-8")
    result = bean_check(path)
    assert (result.returncode, result.stderr) == (0, "")

    entries, errors, options = loader.load_file(str(path))
    assert errors == []
    assert options["operating_currency"] == ["CNY"]
    fund = reader.fund()
    assert fund is not None
    assert options["title"] == fund["name"]
    transactions = [e for e in entries if isinstance(e, data.Transaction)]
    rows = reader.books_view.query("SELECT position, event_id FROM {t}fl_entries")
    assert sorted((int(t.meta["position"]), t.meta["event-id"]) for t in transactions) == sorted(
        (int(r["position"]), r["event_id"]) for r in rows
    )
    assert all(t.flag == "*" for t in transactions)
    # One assertion per account after each of the twelve demo months: the check has teeth.
    accounts = {e.account for e in entries if isinstance(e, data.Open)}
    balances = [e for e in entries if isinstance(e, data.Balance)]
    assert len(balances) == 12 * len(accounts)
    assert {b.date for b in balances} == {
        date(2025 + (m + 11) // 12, (m + 11) % 12 + 1, 1) for m in range(1, 13)
    }


def test_the_journal_balances_equal_the_views_and_the_summary(reader: Reader, journal: str) -> None:
    entries, errors, _ = loader.load_string(journal)
    assert errors == []
    real = realization.realize(entries)

    def fen(account: str) -> int:
        """The balance of an account and its children in fen, 0 for an account not there."""
        node = realization.get(real, account)
        if node is None:
            return 0
        number = realization.compute_balance(node).get_currency_units("CNY").number * 100
        assert number == number.to_integral_value()
        return int(number)

    position = reader.summary()
    assert position == reader.views.ledger.summary()  # the views agree with the event fold
    assert fen("Assets:Bank") == position.balance_fen
    received = [
        "Income:Unrestricted:Donations",
        "Income:Unrestricted:GovernmentGrants",
        "Income:Restricted:Donations",
        "Income:Restricted:GovernmentGrants",
    ]
    assert -sum(fen(a) for a in received) == position.received_total_fen
    assert position.received_total_fen == parse_yuan("3000000.00")
    assert fen("Expenses") == position.spent_total_fen
    assert fen("Assets:InKind") == position.in_kind_total_fen
    leaves = {r.account: fen(r.account) for r in realization.iter_children(real, leaf_only=True)}
    assert {a: v for a, v in leaves.items() if v} == reader.balances()


def _bump(line: str, fen: int) -> str:
    """A posting or balance line with its amount moved by some fen."""
    match = re.search(r"(-?\d+\.\d{2})( ~ 0\.00)? CNY$", line)
    assert match is not None, line
    moved = format_yuan(round(Decimal(match[1]) * 100) + fen)
    return line[: match.start(1)] + moved + line[match.end(1) :]


def _one_posting(journal: str) -> tuple[str, str]:
    lines = journal.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  Assets:Bank"))
    lines[first] = _bump(lines[first], 1)
    return "\n".join(lines), "Transaction does not balance"


def _a_balanced_pair(journal: str) -> tuple[str, str]:
    # Still balanced, so only the assertions from the daily totals can catch it.
    lines = journal.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  Assets:Bank"))
    lines[first] = _bump(lines[first], 1)
    lines[first + 1] = _bump(lines[first + 1], -1)
    return "\n".join(lines), "Balance failed for 'Assets:Bank'"


def _an_assertion(journal: str) -> tuple[str, str]:
    lines = journal.splitlines()
    last = max(i for i, line in enumerate(lines) if " balance Expenses:" in line)
    lines[last] = _bump(lines[last], -1)
    return "\n".join(lines), "Balance failed for 'Expenses:"


@pytest.mark.parametrize("tamper", [_one_posting, _a_balanced_pair, _an_assertion])
def test_a_tampered_journal_fails_bean_check(
    journal: str, tmp_path: Path, tamper: Callable[[str], tuple[str, str]]
) -> None:
    tampered, complaint = tamper(journal)
    assert tampered != journal
    path = tmp_path / "tampered.beancount"
    path.write_text(tampered, encoding="utf-8")
    result = bean_check(path)
    assert result.returncode != 0
    assert complaint in result.stderr
    _, errors, _ = loader.load_file(str(path))
    assert any(complaint in error.message for error in errors)


def test_the_journal_is_read_again_while_the_books_move(
    reader: Reader, journal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The books move once during the first read, then settle: the second read is returned.
    positions = iter([10, 11, 11, 11])
    monkeypatch.setattr(reader.views, "position", lambda name: next(positions))
    assert export_beancount(reader) == journal
    ever = itertools.count()
    monkeypatch.setattr(reader.views, "position", lambda name: next(ever))
    with pytest.raises(ExportMoved):
        export_beancount(reader)


# -- 360Giving ---------------------------------------------------------------------------------


def package_validator() -> Draft202012Validator:
    """The package schema with its grant schema, offline, as fixtures/360giving/SOURCE.md says."""
    checker = Draft202012Validator.FORMAT_CHECKER
    # Without a date-time checker a plain date matches both branches of the dates' oneOf.
    assert "date-time" in checker.checkers, "install jsonschema[format-nongpl]"
    grant = json.loads((SCHEMAS / "360-giving-schema.json").read_text(encoding="utf-8"))
    package = json.loads((SCHEMAS / "360-giving-package-schema.json").read_text(encoding="utf-8"))
    grant_resource = DRAFT202012.create_resource(grant)
    registry: Registry[Any] = Registry().with_resources(
        [
            (grant["$id"], grant_resource),
            # The package refers to the grant schema by its 1.4.2 address.
            (package["properties"]["grants"]["items"]["$ref"], grant_resource),
            (package["$id"], DRAFT202012.create_resource(package)),
        ]
    )
    return Draft202012Validator(package, registry=registry, format_checker=checker)


def problems(package: dict[str, Any]) -> list[str]:
    messages = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in package_validator().iter_errors(package)
    ]
    # The schema says a missing recipient only as a vague oneOf failure: say it plainly.
    messages.extend(
        f"grant {g.get('id')} has no recipient"
        for g in package.get("grants", [])
        if not (g.get("recipientOrganization") or g.get("recipientIndividual"))
    )
    return messages


def test_the_360giving_package_validates_and_holds_every_awarded_grant(reader: Reader) -> None:
    package = export_360giving(reader, published_on=PUBLISHED_ON)
    assert problems(package) == []
    awarded = registers(
        reader,
        "SELECT grant_id, amount_fen, project_code FROM {t}fl_grants"
        " WHERE status IN ('approved', 'closed')",
    )
    grants = package["grants"]
    assert len(grants) == len(awarded) == 7
    assert sorted(g["id"].rsplit("-", 5)[-5:] for g in grants) == sorted(
        a["grant_id"].split("-") for a in awarded
    )
    assert {g["currency"] for g in grants} == {"CNY"}
    assert all(isinstance(g["amountAwarded"], int | float) for g in grants)
    assert sum(Decimal(str(g["amountAwarded"])) for g in grants) == Decimal(
        format_yuan(sum(int(a["amount_fen"]) for a in awarded))
    )
    organisations = {p["organisation"] for p in reader.projects()}
    assert {g["recipientOrganization"][0]["name"] for g in grants} == organisations
    ids = [g["id"] for g in grants] + [
        o["id"] for g in grants for o in g["recipientOrganization"] + g["fundingOrganization"]
    ]
    assert all(i.startswith("360G-") for i in ids)
    # Derived from names, so the same in every store and in every export.
    assert export_360giving(reader, published_on=PUBLISHED_ON) == package

    text = json.dumps(package, ensure_ascii=False)
    people = [r["name"] for r in registers(reader, "SELECT name FROM {t}fl_people")]
    individuals = [
        r["name"]
        for r in registers(reader, "SELECT name FROM {t}fl_donors WHERE kind = 'individual'")
    ]
    payees = [
        r["payee"]
        for r in registers(
            reader, "SELECT DISTINCT payee FROM {t}fl_expenses WHERE payee_kind <> 'organisation'"
        )
    ]
    assert people
    assert individuals
    assert payees
    assert [name for name in people + individuals + payees if name in text] == []


def _amount_as_string(package: dict[str, Any]) -> None:
    grant = package["grants"][0]
    grant["amountAwarded"] = str(grant["amountAwarded"])


def _no_id(package: dict[str, Any]) -> None:
    del package["grants"][0]["id"]


def _unknown_currency(package: dict[str, Any]) -> None:
    package["grants"][0]["currency"] = "RMB"


def _day_first_date(package: dict[str, Any]) -> None:
    package["grants"][0]["awardDate"] = "22/12/2025"


def _no_recipient(package: dict[str, Any]) -> None:
    del package["grants"][0]["recipientOrganization"]


def _no_grants(package: dict[str, Any]) -> None:
    package["grants"] = []


@pytest.mark.parametrize(
    "spoil",
    [_amount_as_string, _no_id, _unknown_currency, _day_first_date, _no_recipient, _no_grants],
)
def test_an_invalid_360giving_package_fails_validation(
    reader: Reader, spoil: Callable[[dict[str, Any]], None]
) -> None:
    package = copy.deepcopy(export_360giving(reader, published_on=PUBLISHED_ON))
    spoil(package)
    assert problems(package) != []


# -- CSV ---------------------------------------------------------------------------------------


def read_csv(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(BOM)
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("public", [True, False], ids=["public", "full"])
@pytest.mark.parametrize("kind", ["donations", "grants", "expenses"])
def test_csv_opens_in_excel_and_sums_to_the_summary(
    reader: Reader, kind: str, public: bool
) -> None:
    rows = read_csv(export_csv(reader, kind, public=public))
    header = list(rows[0])
    assert all(re.fullmatch(r"[^\x00-\x7f]+ / [a-z0-9_]+", name) for name in header), header
    assert len(header) == len(set(header))
    amount = "金额（元） / amount_yuan"
    assert all(YUAN.fullmatch(row[amount]) for row in rows)
    table = {"donations": "fl_donations", "grants": "fl_grants", "expenses": "fl_expenses"}[kind]
    assert len(rows) == int(registers(reader, f"SELECT COUNT(*) AS n FROM {{t}}{table}")[0]["n"])
    position = reader.summary()
    if kind == "donations":
        cash = [r for r in rows if not r["冲销日期 / reversed_on"] and r["实物 / in_kind"] == "否"]
        assert sum(parse_yuan(r[amount]) for r in cash) == position.received_total_fen
        assert len(cash) < len(rows)  # the reversed gift and the gift in kind are listed too
    elif kind == "expenses":
        kept = [r for r in rows if not r["冲销日期 / reversed_on"]]
        assert sum(parse_yuan(r[amount]) for r in kept) == position.spent_total_fen
        assert len(kept) == len(rows) - 1  # the supplies bill keyed twice
    else:
        spent = sum(parse_yuan(r["已支出（元） / spent_yuan"], allow_zero=True) for r in rows)
        assert spent == position.spent_total_fen


def test_unknown_csv_kind_is_refused(reader: Reader) -> None:
    with pytest.raises(ValueError, match="unknown export 'donors'"):
        export_csv(reader, "donors", public=True)


def _contact_values(reader: Reader, donor_ids: set[str] | None = None) -> list[str]:
    values = []
    for row in registers(reader, "SELECT donor_id, contact_json FROM {t}fl_donor_contacts"):
        if donor_ids is None or row["donor_id"] in donor_ids:
            values.extend(str(v) for v in json.loads(row["contact_json"]).values())
    return values


def test_the_public_donations_csv_names_no_one_who_asked_not_to_be_named(reader: Reader) -> None:
    public = export_csv(reader, "donations", public=True)
    full = export_csv(reader, "donations", public=False)
    public_text, full_text = public.decode("utf-8-sig"), full.decode("utf-8-sig")
    donors = registers(reader, "SELECT donor_id, name, kind, disclosure FROM {t}fl_donors")
    giving = {r["donor_id"] for r in registers(reader, "SELECT donor_id FROM {t}fl_donations")}
    hidden = [d for d in donors if d["disclosure"] != "named"]
    contacts = _contact_values(reader)
    individual_ids = [d["donor_id"] for d in donors if d["kind"] == "individual"]
    assert hidden
    assert contacts
    leaks = [
        value
        for value in [d["name"] for d in hidden] + contacts + individual_ids
        if value.encode() in public or value in public_text
    ]
    assert leaks == []
    assert ANONYMOUS_ZH in public_text
    assert "赵**" in public_text  # the masked form is what the public sees

    # The full register is the one that must carry them all.
    shown = [d["name"] for d in hidden if d["donor_id"] in giving]
    shown += _contact_values(reader, giving) + [i for i in individual_ids if i in giving]
    assert shown
    assert [value for value in shown if value not in full_text] == []


def test_the_public_expenses_csv_shows_organisations_only_and_no_voucher_hashes(
    reader: Reader,
) -> None:
    public = export_csv(reader, "expenses", public=True).decode("utf-8-sig")
    full = export_csv(reader, "expenses", public=False).decode("utf-8-sig")
    expenses = registers(
        reader, "SELECT payee, payee_kind, voucher_no, voucher_sha256 FROM {t}fl_expenses"
    )
    people = {e["payee"] for e in expenses if e["payee_kind"] != "organisation"}
    organisations = {e["payee"] for e in expenses if e["payee_kind"] == "organisation"}
    hashes = {e["voucher_sha256"] for e in expenses if e["voucher_sha256"]}
    assert people
    assert hashes
    assert [v for v in people | hashes if v in public] == []
    assert [v for v in people | hashes | organisations if v not in full] == []
    rows = read_csv(public.encode("utf-8-sig"))
    assert {r["收款方 / payee"] for r in rows} == organisations | {"个人 individual"}
    assert {r["凭证号 / voucher_no"] for r in rows} == {e["voucher_no"] for e in expenses}


def test_the_public_grants_csv_names_no_committee_member(reader: Reader) -> None:
    public = export_csv(reader, "grants", public=True).decode("utf-8-sig")
    full = export_csv(reader, "grants", public=False).decode("utf-8-sig")
    committee = [
        r["name"]
        for r in registers(reader, "SELECT name FROM {t}fl_people WHERE role = 'committee'")
    ]
    assert committee
    assert [name for name in committee if name in public] == []
    assert [name for name in committee if name not in full] == []


def test_a_new_store_exports_an_empty_journal_odd_text_and_no_empty_package(
    store_url: str, tmp_path: Path
) -> None:
    ledger = FundLedger(store_url)
    views = Views(ledger)
    reader = Reader(views)
    path = tmp_path / "small.beancount"
    try:
        views.catch_up()
        path.write_text(export_beancount(reader), encoding="utf-8")
        assert (bean_check(path).returncode, loader.load_file(str(path))[:2]) == (0, ([], []))
        assert read_csv(export_csv(reader, "donations", public=True)) == []
        with pytest.raises(ValueError, match="no fund"):
            export_360giving(reader, published_on=PUBLISHED_ON)

        ledger.establish_fund(OPERATOR, "小基金", quorum=1)
        ledger.add_user(OPERATOR, "出纳", "treasurer")
        ledger.add_user(OPERATOR, "委员", "committee")
        treasurer = ledger.actor_named("出纳")
        formula = ledger.register_donor(treasurer, "=1+1 商行", "enterprise", "named").id
        secret = ledger.register_donor(
            treasurer, "钱多多", "individual", "anonymous", {"phone": "13900000000"}
        ).id
        day = date(2026, 1, 5)
        ledger.record_donation(treasurer, formula, parse_yuan("10.00"), day, "cash")
        wrong = ledger.record_donation(treasurer, secret, parse_yuan("99.00"), day, "cash").id
        reason = '金额应为 "9.90" \\ 见凭证\n第二行'
        ledger.reverse_donation(ledger.actor_named("委员"), wrong, reason, on=day)
        views.catch_up()

        path.write_text(export_beancount(reader), encoding="utf-8")
        assert (bean_check(path).returncode, bean_check(path).stderr) == (0, "")
        entries, errors, _ = loader.load_file(str(path))
        assert errors == []
        narrations = {e.narration for e in entries if isinstance(e, data.Transaction)}
        assert f"冲销捐赠 donation reversed: {reason.replace(chr(10), ' ')}" in narrations
        public = export_csv(reader, "donations", public=True)
        assert "钱多多".encode() not in public
        assert b"13900000000" not in public
        # A spreadsheet would run a cell starting with "=", so it is kept as text.
        assert "'=1+1 商行" in {row["捐赠人 / donor"] for row in read_csv(public)}
        # 360Giving refuses a package without grants, so none is made.
        with pytest.raises(ValueError, match="no approved or closed grants"):
            export_360giving(reader, published_on=PUBLISHED_ON)
    finally:
        views.close()
        ledger.close()
