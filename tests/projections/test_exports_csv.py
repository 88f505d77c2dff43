"""Exports, CSV: they open in Excel and sum to the summary, every cell is text to a spreadsheet,
and the public ones show only what they may: no one who asked not to be named, no voucher
hashes, no committee member.
"""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from exporting import read_csv, registers
from helpers import DAY, build_world, fen

from ledger.app import FundLedger
from ledger.domain.disclosure import ANONYMOUS_ZH
from ledger.domain.money import parse_yuan
from projections.exports import export_csv
from projections.reader import Reader
from projections.runner import Views

YUAN = re.compile(r"^\d+\.\d{2}$")


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
    # The platforms' fees on settling (筹资费用) are the fund's costs too, paid from no grant.
    fees = reader.books_view.query(
        "SELECT SUM(amount_fen) AS n FROM {t}fl_journal WHERE account LIKE %s",
        ["Expenses:%:Fees"],
    )
    fees_fen = int(fees[0]["n"])
    assert fees_fen > 0
    if kind == "donations":
        cash = [r for r in rows if not r["冲销日期 / reversed_on"] and r["实物 / in_kind"] == "否"]
        assert sum(parse_yuan(r[amount]) for r in cash) == position.received_total_fen
        assert len(cash) < len(rows)  # the reversed gift and the gift in kind are listed too
    elif kind == "expenses":
        kept = [r for r in rows if not r["冲销日期 / reversed_on"]]
        # Bills and settled advances are the grants' spending too, outside this register.
        owed = reader.books_view.query(
            "SELECT SUM(j.amount_fen) AS n FROM {t}fl_journal j JOIN {t}fl_entries e"
            " ON e.position = j.position WHERE e.event_type IN (%s, %s) AND j.account LIKE %s",
            ["Bill.Received", "Advance.Settled", "Expenses:%"],
        )
        assert int(owed[0]["n"]) == parse_yuan("13600.00")
        total = sum(parse_yuan(r[amount]) for r in kept) + int(owed[0]["n"]) + fees_fen
        assert total == position.spent_total_fen
        assert len(kept) == len(rows) - 1  # the supplies bill keyed twice
    else:
        spent = sum(parse_yuan(r["已支出（元） / spent_yuan"], allow_zero=True) for r in rows)
        assert spent + fees_fen == position.spent_total_fen


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


# Formula payloads that slip past a check of the first character alone: leading spaces and
# line breaks, full-width signs, a pipe (DDE), and the classic ones.
HOSTILE = (
    " =1+1",
    "\n=1+2",
    "＝1+3",
    "|calc!A0",
    "\u3000＋1+4",
    "\t=1+5",
    "\n\t@SUM(1)",
    "-2+3",
    "%0A=1",
    "＠SUM(1)",
    "｜calc",
)


def _formula_like(cell: str) -> bool:
    """Whether a spreadsheet might read the cell as a formula (OWASP's rule, widened)."""
    stripped = unicodedata.normalize("NFKC", cell).lstrip()
    return stripped[:1] in {"=", "+", "-", "@", "|", "%"} or cell[:1] in {"\t", "\r", "\n"}


def test_every_cell_of_every_csv_is_text_however_a_formula_hides(store_url: str) -> None:
    app = FundLedger(store_url)
    world = build_world(app)
    for number, text in enumerate(HOSTILE):
        donor_id = app.register_donor(world.treasurer, text, "individual", "named").id
        app.record_donation(world.treasurer, donor_id, fen("10.00"), DAY, "cash", f"{text}{number}")
    grant_id = app.propose_grant(
        world.committee[0], world.projects["noodles"], fen("50.00"), HOSTILE[0], on=DAY
    ).id
    world.approve(grant_id)
    for text in HOSTILE[:4]:
        app.record_expense(world.treasurer, grant_id, fen("1.00"), DAY, text, "programme", text)
    views = Views(app)
    views.catch_up()
    reader = Reader(views)
    try:
        for kind in ("donations", "grants", "expenses"):
            for public in (True, False):
                for row in read_csv(export_csv(reader, kind, public=public)):
                    for column, cell in row.items():
                        assert not _formula_like(cell) or cell.startswith("'"), (kind, column, cell)
        exported = read_csv(export_csv(reader, "donations", public=True))
        assert {"'" + text for text in HOSTILE} <= {row["捐赠人 / donor"] for row in exported}
    finally:
        views.close()
        app.close()
