"""A bank statement export read line by line; a bad file refused whole, every problem listed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ledger.formats.bank_statement import (
    StatementRefused,
    decode_statement,
    parse_bank_statement,
)

SAMPLE = Path(__file__).parent.parent / "fixtures" / "bank" / "icbc-2026-01.csv"


def sample_text() -> str:
    return SAMPLE.read_bytes().decode("gbk")


def refused_with(data: bytes, encoding: str = "auto") -> list[str]:
    with pytest.raises(StatementRefused) as caught:
        parse_bank_statement(decode_statement(data, encoding))
    return caught.value.problems


def test_the_icbc_export_is_read_from_gbk() -> None:
    statement = parse_bank_statement(decode_statement(SAMPLE.read_bytes()))
    assert statement.account_no == "1204060009200123456"
    assert statement.holder.startswith("嘉兴市南湖区慈善总会")
    assert statement.opening_balance_fen == 100_000_000
    assert statement.closing_balance_fen == 104_161_937
    first, *_, last = statement.lines
    assert (first.day, first.credit_fen, first.counterpart) == (
        date(2026, 1, 5),
        5_000_000,
        "嘉兴慈善基金会",
    )
    assert (last.line, last.credit_fen, last.reference) == (11, 3125, "HQ20260131009999")
    assert [line.debit_fen for line in statement.lines] == [0, 0, 0, 1_280_000, 0]


def test_the_same_statement_in_utf8_reads_the_same() -> None:
    utf8 = parse_bank_statement(decode_statement(sample_text().encode("utf-8-sig")))
    assert utf8 == parse_bank_statement(decode_statement(SAMPLE.read_bytes()))


def test_a_wrong_encoding_is_refused() -> None:
    # GBK bytes said to be UTF-8, and UTF-16 (neither GBK nor UTF-8) guessed at.
    assert refused_with(SAMPLE.read_bytes(), "utf-8") == ["the file is not utf-8 text"]
    assert refused_with(sample_text().encode("utf-16")) == [
        "the file is not utf-8-sig or gb18030 text"
    ]
    assert refused_with(sample_text().encode("utf-8"), "gbk") == ["the file is not gbk text"]


def test_a_missing_column_is_refused() -> None:
    text = sample_text().replace("余额,", "结余,", 1)
    assert refused_with(text.encode("gbk")) == ["line 6: the table has no column 余额"]


def test_a_truncated_last_line_and_every_other_problem_are_listed() -> None:
    text = sample_text()
    cut = text[: text.index("合计")].rstrip("\r\n")
    cut = cut[: cut.rindex(",,")]  # the last line loses its last fields and its line end
    bad = cut.replace("2026-01-08", "2026-13-08").replace('"1,188.12"', '"1,188.1x"')
    problems = refused_with(bad.encode("gbk"))
    assert problems[0].startswith("line 8: 交易日期")
    assert problems[1].startswith("line 9: 贷方发生额")
    assert any("line 11: " in p and "fields" in p for p in problems)
    assert any("the last line is cut short" in p for p in problems)


def test_a_total_or_a_balance_that_does_not_match_its_lines_is_refused() -> None:
    text = sample_text().replace('"54,419.37"', '"54,419.38"')
    assert refused_with(text.encode("gbk")) == [
        "合计 credit: the footer says 54419.38, the lines add up to 54419.37"
    ]
    one_fen = sample_text().replace('"1,041,588.12"', '"1,041,588.13"')
    problems = refused_with(one_fen.encode("gbk"))
    assert [p.split(":")[0] for p in problems] == ["line 10", "line 11"]
