"""The parameters of the reads, bounded and described as the ledger takes them.

Every page has a bounded size (``Limit``) and a bounded position (``After``); dates are
``YYYY-MM-DD`` only; amounts, ids and codes carry the patterns of ``api/models.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from api.models import ID_PATTERN, YUAN_OR_ZERO_PATTERN, IsoDate

Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page, 1 to 500.")]
# Positions are BIGINT in both databases.
POSITION_MAX = 2**63 - 1
After = Annotated[
    int,
    Query(ge=0, le=POSITION_MAX, description="`next_after` of the previous page; 0 starts."),
]
Since = Annotated[
    IsoDate | None, Query(alias="from", description="From this date (YYYY-MM-DD), inclusive.")
]
Until = Annotated[
    IsoDate | None, Query(alias="to", description="To this date (YYYY-MM-DD), inclusive.")
]
# A report's period: ``from`` after ``to`` is refused (422), a rule between two parameters
# that the OpenAPI document cannot state but in words.
PeriodSince = Annotated[
    IsoDate | None,
    Query(
        alias="from",
        description="From this date, inclusive; 1 January of `to`'s year by default. "
        "Not after `to` (else 422).",
    ),
]
PeriodUntil = Annotated[
    IsoDate | None, Query(alias="to", description="To this date, inclusive; today by default.")
]
AsOf = Annotated[IsoDate | None, Query(description="Effective date (YYYY-MM-DD); today if none.")]
AMOUNT_BOUND = "yuan, 0 to 1000000000000.00, at most two decimals"
MinYuan = Annotated[
    str | None,
    Query(pattern=YUAN_OR_ZERO_PATTERN, description=f"At least this amount ({AMOUNT_BOUND})."),
]
MaxYuan = Annotated[
    str | None,
    Query(pattern=YUAN_OR_ZERO_PATTERN, description=f"At most this amount ({AMOUNT_BOUND})."),
]
# A code or an id: printable ASCII, as the ledger gives them.
Key = Annotated[
    str | None,
    Query(min_length=1, max_length=64, pattern=ID_PATTERN, description="A code or an id."),
]
KeyPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="An id (or a code).")
]
Month = Annotated[str, Path(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-01"])]
