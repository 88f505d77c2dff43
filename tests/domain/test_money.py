"""Tests for ledger.domain.money: exact yuan strings in, integer fen inside, clear refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import InvalidAmount, InvalidInput
from ledger.domain.money import AMOUNT_FEN_MAX, check_amount_fen, parse_yuan
from ledger.domain.yuan import format_yuan, format_yuan_grouped

valid_fen = st.integers(min_value=1, max_value=AMOUNT_FEN_MAX)


# -- parse_yuan: what it accepts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_fen"),
    [
        ("1280.50", 128050),
        ("1280.5", 128050),
        ("1280", 128000),
        ("0.01", 1),
        ("0.1", 10),
        ("3000000.00", 300_000_000),
        ("007.00", 700),
    ],
)
def test_parse_yuan_reads_decimal_strings_exactly(text: str, expected_fen: int) -> None:
    assert parse_yuan(text) == expected_fen


@pytest.mark.parametrize(
    ("value", "expected_fen"),
    [
        (Decimal("1280.50"), 128050),
        (Decimal("0.01"), 1),
        (Decimal("12"), 1200),
        (Decimal("1E+2"), 10000),  # a Decimal is exact whatever its exponent
        (Decimal("1.20"), 120),
    ],
)
def test_parse_yuan_accepts_decimals(value: Decimal, expected_fen: int) -> None:
    assert parse_yuan(value) == expected_fen


def test_parse_yuan_accepts_the_exact_upper_bound() -> None:
    assert parse_yuan("1000000000000.00") == AMOUNT_FEN_MAX
    assert parse_yuan(Decimal("1000000000000")) == AMOUNT_FEN_MAX
    assert check_amount_fen(AMOUNT_FEN_MAX) == AMOUNT_FEN_MAX


def test_parse_yuan_trims_surrounding_whitespace_only() -> None:
    # Pasted amounts often carry a trailing newline; spaces inside an amount are refused below.
    assert parse_yuan(" 12.00\n") == 1200


def test_zero_is_refused_unless_allowed() -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan("0.00")
    assert caught.value.facts == {"field": "amount", "value": "0.00"}
    assert parse_yuan("0.00", allow_zero=True) == 0
    assert parse_yuan("0", allow_zero=True) == 0
    assert check_amount_fen(0, allow_zero=True) == 0
    with pytest.raises(InvalidAmount):
        check_amount_fen(0)


# -- parse_yuan: what it refuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (12.5, "12.5"),  # a float has already lost exactness
        (0.1, "0.1"),
        (12, "12"),  # a bare int: yuan or fen? refused rather than guessed
        (0, "0"),
        (True, "True"),  # bool is an int subclass: must not slip through as 1
        (False, "False"),
        (None, "None"),
        (b"12.00", "b'12.00'"),
        ([1200], "[1200]"),
    ],
)
def test_parse_yuan_refuses_anything_but_strings_and_decimals(value: object, shown: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(value, field="amount_yuan")
    assert caught.value.facts == {"field": "amount_yuan", "value": shown}


@pytest.mark.parametrize(
    "text",
    [
        "12.345",  # a third decimal
        "0.001",
        "12.340",  # even a zero third decimal: inexact input is a typo until proven otherwise
        "1e3",  # exponent notation
        "1E3",
        "1.5e2",
        "1,280.50",  # thousands separators
        "1，280.50",  # a full-width comma
        "1 280.50",  # spaces inside
        "1\t280.50",
        "12 .50",
        "12. 50",
        "",
        "   ",
        ".50",
        "12.",
        "+12.00",
        "--12",
        "¥12.00",
        "12.00元",
        "12.5.0",
        "0x10",
        "NaN",
        "Infinity",
        "1_000.00",
    ],
)
def test_parse_yuan_refuses_malformed_text(text: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(text, field="amount")
    assert caught.value.facts["field"] == "amount"
    assert caught.value.facts["value"] == text.strip()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("12.345"), "12.345"),
        (Decimal("12.340"), "12.340"),
        (Decimal("-5"), "-5.00"),
        (Decimal("0"), "0.00"),
        (Decimal("NaN"), "NaN"),
        (Decimal("Infinity"), "Infinity"),
        (Decimal("-Infinity"), "-Infinity"),
    ],
)
def test_parse_yuan_refuses_inexact_negative_zero_or_infinite_decimals(
    value: Decimal, shown: str
) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(value)
    assert caught.value.facts == {"field": "amount", "value": shown}


@pytest.mark.parametrize(
    ("text", "shown"),
    [("-12.00", "-12.00"), ("-0.01", "-0.01"), ("0", "0.00"), ("0.00", "0.00"), ("-0", "0.00")],
)
def test_parse_yuan_refuses_negative_and_zero(text: str, shown: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(text)
    assert caught.value.facts == {"field": "amount", "value": shown}


def test_negative_stays_refused_when_zero_is_allowed() -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan("-0.01", allow_zero=True)
    assert caught.value.facts["value"] == "-0.01"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("1000000000000.01", "1000000000000.01"),
        ("1000000000001", "1000000000001.00"),
        ("9999999999999.99", "9999999999999.99"),
    ],
)
def test_parse_yuan_refuses_more_than_one_trillion_yuan(text: str, shown: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(text)
    assert caught.value.facts == {"field": "amount", "value": shown}
    assert "must not exceed 1000000000000.00" in caught.value.detail


@pytest.mark.parametrize("text", ["10000000000000", "99999999999999.99", "1" + "0" * 30])
def test_parse_yuan_refuses_more_digits_than_any_amount_can_have(text: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_yuan(text)
    assert caught.value.facts == {"field": "amount", "value": text}


@pytest.mark.parametrize("text", ["１２.５０", "١٢.٥٠", "12.５０"])
def test_parse_yuan_refuses_digits_other_than_ascii(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_yuan(text)


def test_an_invalid_amount_is_an_invalid_input_with_field_and_value() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_yuan("12.345", field="grant.amount")
    error = caught.value
    assert isinstance(error, InvalidAmount)
    assert error.facts == {"field": "grant.amount", "value": "12.345"}
    assert error.kind == "invalid"
    assert error.code == "invalid-amount"
    assert "grant.amount" in error.detail
    assert "12.345" in error.detail


# -- check_amount_fen --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(12.0, "12.0"), (True, "True"), ("1200", "'1200'"), (Decimal(1200), "Decimal('1200')")],
)
def test_check_amount_fen_refuses_anything_but_int(value: object, shown: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        check_amount_fen(value, field="amount_fen")  # type: ignore[arg-type]
    assert caught.value.facts == {"field": "amount_fen", "value": shown}


@pytest.mark.parametrize(
    ("amount_fen", "shown"),
    [(-1, "-0.01"), (-128050, "-1280.50"), (0, "0.00"), (AMOUNT_FEN_MAX + 1, "1000000000000.01")],
)
def test_check_amount_fen_refuses_out_of_range(amount_fen: int, shown: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        check_amount_fen(amount_fen, field="amount_fen")
    assert caught.value.facts == {"field": "amount_fen", "value": shown}


@given(valid_fen)
def test_check_amount_fen_returns_every_amount_in_range(amount_fen: int) -> None:
    assert check_amount_fen(amount_fen) == amount_fen


# -- format_yuan -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount_fen", "text", "grouped"),
    [
        (0, "0.00", "0.00"),
        (1, "0.01", "0.01"),
        (10, "0.10", "0.10"),
        (128050, "1280.50", "1,280.50"),
        (-128050, "-1280.50", "-1,280.50"),
        (-5, "-0.05", "-0.05"),
        (300_000_000, "3000000.00", "3,000,000.00"),
        (AMOUNT_FEN_MAX, "1000000000000.00", "1,000,000,000,000.00"),
    ],
)
def test_format_yuan_always_shows_two_decimals(amount_fen: int, text: str, grouped: str) -> None:
    assert format_yuan(amount_fen) == text
    assert format_yuan_grouped(amount_fen) == grouped


# -- round trips -------------------------------------------------------------------------------


@settings(max_examples=500)
@given(st.integers(min_value=0, max_value=AMOUNT_FEN_MAX))
def test_format_then_parse_round_trips_every_valid_amount(amount_fen: int) -> None:
    text = format_yuan(amount_fen)
    assert parse_yuan(text, allow_zero=True) == amount_fen
    assert format_yuan(parse_yuan(text, allow_zero=True)) == text
    assert parse_yuan(Decimal(text), allow_zero=True) == amount_fen


@given(valid_fen)
def test_grouped_format_is_the_plain_format_with_commas(amount_fen: int) -> None:
    assert format_yuan_grouped(amount_fen).replace(",", "") == format_yuan(amount_fen)


@given(
    whole=st.integers(min_value=0, max_value=10**12 - 1),
    frac=st.integers(min_value=0, max_value=99),
    places=st.sampled_from([0, 1, 2]),
)
def test_parse_yuan_reads_every_valid_spelling(whole: int, frac: int, places: int) -> None:
    if places == 0:
        text, expected_fen = f"{whole}", whole * 100
    elif places == 1:
        text, expected_fen = f"{whole}.{frac % 10}", whole * 100 + (frac % 10) * 10
    else:
        text, expected_fen = f"{whole}.{frac:02d}", whole * 100 + frac
    if expected_fen == 0:
        with pytest.raises(InvalidAmount):
            parse_yuan(text)
    else:
        assert parse_yuan(text) == expected_fen


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_no_float_is_ever_accepted(value: float) -> None:
    with pytest.raises(InvalidAmount):
        parse_yuan(value)
