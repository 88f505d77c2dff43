"""记账凭证: every expense, transfer and reversal has a voucher number unique in its year,
given by the treasurer or assigned in sequence, with the SHA-256 of its attachments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import FundAggregate, Meta, derived_id
from ledger.domain.errors import AttachmentMissing, NumberTaken

# A number ending in digits is one of a series (its prefix): gaps are looked for in each.
_SERIES = re.compile(r"^(.*?)(\d+)$")


def assigned_number(year: int, sequence: int) -> str:
    return f"{year:04d}-{sequence:04d}"


def series_of(voucher_no: str) -> tuple[str, int] | None:
    found = _SERIES.match(voucher_no)
    return (found.group(1), int(found.group(2))) if found else None


@dataclass(frozen=True)
class VoucherEntry:
    voucher_no: str
    record_kind: str
    record_id: str
    day: str
    attachments_sha256: tuple[str, ...]


class VoucherYear(FundAggregate):
    """The voucher numbers used in one year and what each one is the voucher of."""

    @event("Opened")
    def __init__(self, year: int, meta: Meta) -> None:
        self.year = year
        # voucher number -> [record kind, record id, day, attachments' SHA-256 ...]
        self.numbers: dict[str, list[str]] = {}
        self.last_assigned = 0

    @staticmethod
    def create_id(year: int) -> UUID:
        return derived_id("vouchers", f"{year:04d}")

    def number(
        self,
        given: str | None,
        record: tuple[str, str],
        attachments_sha256: tuple[str, ...],
        needs_attachment: tuple[int, int] | None,
        meta: Meta,
    ) -> str:
        """The voucher number of a record (kind, id): the one given if unused this year, else
        the next of the sequence. ``needs_attachment`` (amount, threshold) when one is due."""
        if needs_attachment is not None and not attachments_sha256:
            raise AttachmentMissing(*needs_attachment)
        if given is not None and given in self.numbers:
            earlier = self.numbers[given]
            raise NumberTaken("voucher", given, earlier[0], earlier[1])
        voucher_no = given
        if voucher_no is None:
            sequence = self.last_assigned + 1
            while assigned_number(self.year, sequence) in self.numbers:
                sequence += 1
            voucher_no = assigned_number(self.year, sequence)
        self._numbered(voucher_no, record[0], record[1], list(attachments_sha256), meta)
        return voucher_no

    @event("Numbered")
    def _numbered(
        self,
        voucher_no: str,
        record_kind: str,
        record_id: str,
        attachments_sha256: list[str],
        meta: Meta,
    ) -> None:
        day = meta.effective_on.isoformat()
        self.numbers[voucher_no] = [record_kind, record_id, day, *attachments_sha256]
        series = series_of(voucher_no)
        if series is not None and series[0] == f"{self.year:04d}-":
            self.last_assigned = max(self.last_assigned, series[1])

    def entries(self) -> list[VoucherEntry]:
        """Every voucher of the year, by series and number (numbers of no series last)."""

        def order(no: str) -> tuple[int, str, int, str]:
            series = series_of(no)
            return (0, series[0], series[1], no) if series else (1, "", 0, no)

        return [
            VoucherEntry(no, v[0], v[1], v[2], tuple(v[3:]))
            for no, v in sorted(self.numbers.items(), key=lambda item: order(item[0]))
        ]


def gaps(voucher_nos: list[str]) -> list[str]:
    """Numbers missing inside each series (``2026-0003`` between ``-0002`` and ``-0004``)."""
    by_series: dict[str, list[tuple[int, int]]] = {}
    for no in voucher_nos:
        series = series_of(no)
        if series is not None:
            digits = len(no) - len(series[0])
            by_series.setdefault(series[0], []).append((series[1], digits))
    missing: list[str] = []
    for prefix, numbers in by_series.items():
        present = {n for n, _ in numbers}
        width = min(d for _, d in numbers)
        missing.extend(
            f"{prefix}{n:0{width}d}" for n in range(min(present), max(present)) if n not in present
        )
    return missing
