"""Checks of command input that need no stored state: text, choices, dates, and their limits."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from ledger.domain.base import today
from ledger.domain.errors import InvalidInput

PAGE_SIZE_MAX = 1000
BATCH_SIZE_MAX = 10_000
TEXT_CHARS_MAX = 2000
NAME_CHARS_MAX = 200
OPINION_CHARS_MAX = 10_000
IDEMPOTENCY_KEY_CHARS_MAX = 200
RECEIPT_CHARS_MAX = 64
QUORUM_MAX = 99
DATE_MIN = date(2000, 1, 1)

PROJECT_CODE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

E = TypeVar("E", bound=StrEnum)


def check_text(field: str, value: object, chars_max: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, repr(value), "must be non-empty text")
    if len(value) > chars_max:
        raise InvalidInput(
            field, f"{len(value)} characters", f"must be at most {chars_max} characters"
        )
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise InvalidInput(field, repr(value[:40]), "must not contain control characters")
    return value


def check_optional_text(field: str, value: object, chars_max: int) -> None:
    if value is not None:
        check_text(field, value, chars_max)


def check_choice(field: str, value: object, choices: type[E]) -> E:
    try:
        return choices(value)  # type: ignore[arg-type]  # refused below unless a member's value
    except ValueError:
        allowed = ", ".join(member.value for member in choices)
        raise InvalidInput(field, repr(value), f"must be one of {allowed}") from None


def check_date(field: str, value: object) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(field, repr(value), "must be a date")
    if value < DATE_MIN:
        raise InvalidInput(field, value.isoformat(), f"must not be before {DATE_MIN}")
    if value > today() + timedelta(days=1):
        raise InvalidInput(field, value.isoformat(), "must not be in the future")
    return value


def check_idempotency_key(key: str | None) -> None:
    if key is not None:
        check_text("Idempotency-Key", key, IDEMPOTENCY_KEY_CHARS_MAX)


def check_optional_sha256(field: str, value: object) -> None:
    if value is not None and not (isinstance(value, str) and SHA256_HEX.match(value)):
        raise InvalidInput(field, str(value), "must be 64 lower-case hexadecimal digits")
