"""Request and response bodies: amounts as yuan strings, every field described.

The patterns and bounds here are the ones the ledger enforces (``ledger/domain/checks.py``,
``ledger/domain/money.py``), so that the OpenAPI document refuses exactly what the API refuses.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ledger.domain import today
from ledger.domain.checks import DATE_MIN, PROJECT_CODE

# Digits are [0-9]: \d also matches other scripts' digits, which the ledger refuses.
# More than zero and at most ¥1,000,000,000,000.00 (``AMOUNT_FEN_MAX``), no leading zeros.
YUAN_PATTERN = (
    r"^(?:[1-9][0-9]{0,11}(?:\.[0-9]{1,2})?|0\.(?:0[1-9]|[1-9][0-9]?)|1000000000000(?:\.00?)?)$"
)
# The same with zero allowed: the bounds of a filter.
YUAN_OR_ZERO_PATTERN = r"^(?:(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,2})?|1000000000000(?:\.00?)?)$"
# Text the ledger takes (``check_text``): not blank, no control character but tab and newline.
# The blanks are spelled out rather than \s, whose meaning differs between regex dialects
# (ECMA's leaves out U+0085): those ``str.strip`` removes, controls aside.
BLANKS = r"\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[\t\n{BLANKS}]*[^\x00-\x1f{BLANKS}][^\x00-\x08\x0b-\x1f]*$"
# A header value: visible ASCII, spaces only inside (HTTP strips them at either end).
HEADER_TEXT_PATTERN = r"^[!-~](?:[ -~]*[!-~])?$"
# The ids the ledger gives are UUIDs; a project is also found by its code.
ID_PATTERN = r"^[!-~]{1,64}$"
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Yuan = Annotated[
    str,
    Field(
        pattern=YUAN_PATTERN,
        description="Amount in yuan, more than zero, at most two decimals (金额，元).",
        examples=["1280.50"],
    ),
]
# What the books answer: a balance may be zero.
YuanFigure = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]{1,13}\.[0-9]{2}$",
        description="Amount in yuan with two decimals (金额，元).",
        examples=["1280.50"],
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
ShortText = Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT_PATTERN)]
Id = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=ID_PATTERN, description="An id the ledger gave."),
]


def _iso_date_only(value: object) -> object:
    """Only ``YYYY-MM-DD``: pydantic would also read ``0`` or ``1700000000`` as a timestamp."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def dates_through(last: date) -> str:
    """A pattern for the ISO dates from ``DATE_MIN`` through ``last``, for the OpenAPI document.

    JSON Schema has no bounds for a date, so the window the ledger allows (``check_date``: not
    before 2000, not after tomorrow) is written as the strings that match it."""
    any_day = "(?:0[1-9]|[12][0-9]|3[01])"
    spans = []
    years = [f"{year:04d}" for year in range(DATE_MIN.year, last.year)]
    if years:
        spans.append(f"(?:{'|'.join(years)})-(?:0[1-9]|1[0-2])-{any_day}")
    months = [f"{month:02d}" for month in range(1, last.month)]
    if months:
        spans.append(f"{last.year:04d}-(?:{'|'.join(months)})-{any_day}")
    days = "|".join(f"{day:02d}" for day in range(1, last.day + 1))
    spans.append(f"{last.year:04d}-{last.month:02d}-(?:{days})")
    return f"^(?:{'|'.join(spans)})$"


def _recorded_date_window(schema: dict[str, Any]) -> None:
    schema["pattern"] = dates_through(today() + timedelta(days=1))


# A date a gift or a payment happened: from 2000-01-01 to tomorrow (the document is made anew
# each day, ``api/app.py``).
RecordedDate = Annotated[IsoDate, Field(json_schema_extra=_recorded_date_window)]


class Strict(BaseModel):
    """Request bodies refuse fields they do not know: a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


ContactKey = Annotated[str, Field(min_length=1, max_length=50, pattern=TEXT_PATTERN)]
# pydantic states a key's pattern as patternProperties, which leaves other keys free: the
# document says instead that every key and every value is such text.
Contact = Annotated[
    dict[ContactKey, Name],
    Field(max_length=10),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": 10,
            "propertyNames": {"minLength": 1, "maxLength": 50, "pattern": TEXT_PATTERN},
            "additionalProperties": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": TEXT_PATTERN,
            },
        }
    ),
]


class DonorCreate(Strict):
    name: Name = Field(description="Donor's name (捐赠人名称).", examples=["南湖宾馆", "顾阿姨"])
    kind: Literal["government", "foundation", "enterprise", "individual", "community_org"] = Field(
        description="Kind of donor (捐赠人类型)."
    )
    disclosure: Literal["named", "masked", "anonymous"] = Field(
        description=(
            "What may be published: the full name, a masked name (张*), or nothing "
            "(爱心人士). 公示方式：实名、隐去部分、匿名。"
        )
    )
    contact: Contact | None = Field(
        None,
        description="Contact details, up to 10; never published (联系方式，不公开).",
        examples=[{"phone": "13800000000"}],
    )


class ProjectCreate(Strict):
    code: str = Field(
        pattern=PROJECT_CODE.pattern,
        description="Short code, lower-case (项目代码).",
        examples=["noodles"],
    )
    name: Name = Field(
        description="Chinese name (项目名称).", examples=["一碗长寿面 · 邻里伙伴计划"]
    )
    name_en: Name | None = Field(
        None, description="English name.", examples=["A Bowl of Longevity Noodles"]
    )
    description: Text | None = Field(None, description="What it pays for (项目简介).")
    organisation: Name | None = Field(
        None, description="Implementing organisation (执行机构).", examples=["南湖宾馆"]
    )


class DonationCreate(Strict):
    donor_id: Id = Field(description="The donor (捐赠人).")
    amount: Yuan
    received_on: RecordedDate = Field(
        description="Date the money arrived (到账日期), from 2000-01-01 to tomorrow.",
        examples=["2026-01-05"],
    )
    channel: Literal["bank_transfer", "cash", "wechat_pay", "alipay", "in_kind"] = Field(
        description="How it came; in_kind records goods at fair value (捐赠方式；实物按公允价值)."
    )
    receipt_no: ShortText | None = Field(
        None,
        description="Receipt number (捐赠票据号); made when omitted.",
        examples=["NH2026-00001"],
    )
    project_id: Id | None = Field(
        None, description="Restricts the gift to this project (限定性捐赠的项目)."
    )
    note: Text | None = Field(None, description="Internal note; never published (备注).")


class DonationBatch(Strict):
    donations: list[DonationCreate] = Field(
        min_length=1, max_length=10_000, description="Up to 10,000 donations, all or none."
    )


class Reason(Strict):
    reason: Text = Field(
        description="Why, published with the correction (原因，随更正说明公示).",
        examples=["金额录入错误 / amount keyed wrongly"],
    )


class GrantCreate(Strict):
    project_id: Id = Field(description="The project (项目).")
    amount: Yuan
    purpose: Text = Field(
        description="What it is for (资助用途).", examples=["2026年度每月15日集体生日长寿面"]
    )


class ExpenseCreate(Strict):
    grant_id: Id = Field(description="The approved grant it is charged to (资助).")
    amount: Yuan
    paid_on: RecordedDate = Field(
        description="Date paid (支付日期), from 2000-01-01 to tomorrow, and not before the grant"
        " was approved (else 409 dated-too-early).",
        examples=["2026-01-15"],
    )
    payee: Name = Field(description="Who was paid (收款方).", examples=["南湖宾馆"])
    payee_kind: Literal["organisation", "individual"] = Field(
        "organisation",
        description="An individual payee is personal data and never published (个人收款方不公开).",
    )
    category: Literal["programme", "management", "fundraising"] = Field(
        description="业务活动成本 programme, 管理费用 management, 筹资费用 fundraising."
    )
    description: Text = Field(description="What was bought (用途).", examples=["1月集体生日长寿面"])
    voucher_no: ShortText | None = Field(
        None, description="Voucher number (凭证号).", examples=["PZ202601-0001"]
    )
    voucher_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the scanned receipt (票据扫描件的SHA-256).",
    )


class OpinionCreate(Strict):
    subject_id: Id = Field(description="The grant or project it is about (对象).")
    text: Annotated[str, Field(min_length=1, max_length=10_000, pattern=TEXT_PATTERN)] = Field(
        description="The opinion (专家意见).",
        examples=["建议增加慢病随访。/ Add chronic-disease follow-up."],
    )


class OpinionTurn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=10_000, pattern=TEXT_PATTERN)] = Field(
        description="The answer, or the opinion's later version (答复 / 修订).",
        examples=["已采纳，下季度增加随访。/ Adopted: follow-up from next quarter."],
    )


class Written(BaseModel):
    """What a write answers: the id it made or acted on, and where it sits in the log."""

    id: str = Field(description="The id made or acted on.")
    ids: list[str] | None = Field(None, description="For a batch: every id, in order.")
    position: int = Field(description="Log position of the write; 0 when replayed.")
    replayed: bool = Field(description="True when an idempotency key returned a first answer.")


class Summary(BaseModel):
    currency: str = Field(description="Always CNY.")
    received_total: YuanFigure
    spent_total: YuanFigure
    balance: YuanFigure
    restricted_balance: YuanFigure
    unrestricted_balance: YuanFigure
    committed_unspent: YuanFigure
    available_for_grants: YuanFigure
    in_kind_total: YuanFigure
    events: int = Field(description="Events counted, up to the as-of date.")
    as_of: date | None = Field(None, description="Effective date of the figures; none is today.")


class Listing(BaseModel):
    items: list[dict[str, Any]] = Field(description="Rows; amounts as yuan strings.")
    next_after: int | None = Field(
        description="Pass as `after` for the next page; none at the end."
    )


class Problem(BaseModel):
    """RFC 9457 problem details: why a request was refused, with the facts (问题详情)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="A URI reference naming the problem, e.g. /problems/insufficient-funds."
    )
    title: str = Field(description="A short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What happened in this case, with the figures.")


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": Problem,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


# The refusals every route may answer with, declared once for the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Malformed request"),
    401: _problem_response("No token, or a bad or revoked one"),
    403: _problem_response("The caller's role may not do this"),
    404: _problem_response("Not found"),
    409: _problem_response("A rule of the fund refuses it, or an idempotency key was reused"),
    413: _problem_response("The request body is too large"),
    429: _problem_response("Too many failed authentications; see Retry-After"),
    422: _problem_response("Invalid input; `field` names it"),
    503: _problem_response("The store is unreachable or busy; see Retry-After"),
}


def _operation(method: str, path: str) -> str:
    """An operationRef: a JSON pointer to the operation in this document."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def link_to_path(method: str, path: str, parameter: str, value: str) -> dict[str, Any]:
    """An OpenAPI link: ``value`` (a runtime expression) as the path parameter of an operation."""
    return {"operationRef": _operation(method, path), "parameters": {parameter: value}}


def link_to_body(path: str, member: str, value: str) -> dict[str, Any]:
    """An OpenAPI link: ``value`` as a member of the body of a POST."""
    return {"operationRef": _operation("post", path), "requestBody": {member: value}}
