"""Exact money: yuan text parsed into integer fen, and amounts in fen checked."""

from __future__ import annotations

import re
from decimal import Decimal

from ledger.domain.errors import InvalidAmount
from ledger.domain.yuan import FEN_PER_YUAN, format_yuan

# ¥1,000,000,000,000: far beyond any community fund, small enough to rule out typos and overflow.
AMOUNT_FEN_MAX = 1_000_000_000_000 * FEN_PER_YUAN

# [0-9], not \d: \d also matches full-width and other scripts' digits.
_YUAN_PATTERN = re.compile(r"^(?P<sign>-)?(?P<whole>[0-9]{1,13})(?:\.(?P<frac>[0-9]{1,2}))?$")
# What a refused amount is told, wherever it was refused (here, or by the API's model).
YUAN_MEANING = 'must be yuan with at most two decimals, digits only, such as "1280.50"'


def parse_yuan(value: object, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Parse a yuan amount such as ``"1280.50"`` into fen, refusing anything inexact.

    Only strings and ``Decimal`` are accepted: a float has already lost exactness, and a bare
    integer is ambiguous between yuan and fen, so both are refused rather than guessed at.
    """
    if isinstance(value, bool) or not isinstance(value, str | Decimal):
        raise InvalidAmount(
            field, repr(value), 'must be a decimal string of yuan such as "1280.50"'
        )
    text = value.strip() if isinstance(value, str) else _decimal_text(value, field)
    match = _YUAN_PATTERN.match(text)
    if match is None:
        raise InvalidAmount(field, text, YUAN_MEANING)
    fen = int(match["whole"]) * FEN_PER_YUAN + int((match["frac"] or "0").ljust(2, "0"))
    if match["sign"]:
        fen = -fen
    check_amount_fen(fen, field=field, allow_zero=allow_zero)
    return fen


def _decimal_text(value: Decimal, field: str) -> str:
    if not value.is_finite():
        raise InvalidAmount(field, str(value), "must be a finite amount")
    return format(value, "f")


def check_amount_fen(amount_fen: int, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Check an amount in fen is a positive integer within the limit, and return it."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidAmount(field, repr(amount_fen), "must be an integer number of fen")
    if amount_fen < 0 or (amount_fen == 0 and not allow_zero):
        raise InvalidAmount(field, format_yuan(amount_fen), "must be more than zero")
    if amount_fen > AMOUNT_FEN_MAX:
        raise InvalidAmount(field, format_yuan(amount_fen), "must not exceed 1000000000000.00")
    return amount_fen
