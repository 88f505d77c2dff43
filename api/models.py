"""Request and response bodies: amounts as yuan strings, every field described."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

YUAN_PATTERN = r"^\d{1,13}(\.\d{1,2})?$"

Yuan = Annotated[
    str,
    Field(
        pattern=YUAN_PATTERN,
        description="Amount in yuan, a decimal string with at most two decimals (金额，元).",
        examples=["1280.50"],
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=64, description="An id the ledger gave.")]


class Strict(BaseModel):
    """Request bodies refuse fields they do not know: a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


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
    contact: (
        dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=200)]] | None
    ) = Field(
        None,
        max_length=10,
        description="Contact details; never published (联系方式，不公开).",
        examples=[{"phone": "13800000000"}],
    )


class ProjectCreate(Strict):
    code: str = Field(
        pattern=r"^[a-z][a-z0-9-]{1,31}$",
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
    received_on: date = Field(
        description="Date the money arrived (到账日期).", examples=["2026-01-05"]
    )
    channel: Literal["bank_transfer", "cash", "wechat_pay", "alipay", "in_kind"] = Field(
        description="How it came; in_kind records goods at fair value (捐赠方式；实物按公允价值)."
    )
    receipt_no: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
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
    paid_on: date = Field(description="Date paid (支付日期).", examples=["2026-01-15"])
    payee: Name = Field(description="Who was paid (收款方).", examples=["南湖宾馆"])
    payee_kind: Literal["organisation", "individual"] = Field(
        "organisation",
        description="An individual payee is personal data and never published (个人收款方不公开).",
    )
    category: Literal["programme", "management", "fundraising"] = Field(
        description="业务活动成本 programme, 管理费用 management, 筹资费用 fundraising."
    )
    description: Text = Field(description="What was bought (用途).", examples=["1月集体生日长寿面"])
    voucher_no: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="Voucher number (凭证号).", examples=["PZ202601-0001"]
    )
    voucher_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the scanned receipt (票据扫描件的SHA-256).",
    )


class OpinionCreate(Strict):
    subject_id: Id = Field(description="The grant or project it is about (对象).")
    text: Annotated[str, Field(min_length=1, max_length=10_000)] = Field(
        description="The opinion (专家意见).",
        examples=["建议增加慢病随访。/ Add chronic-disease follow-up."],
    )


class OpinionTurn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=10_000)] = Field(
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
    received_total: Yuan
    spent_total: Yuan
    balance: Yuan
    restricted_balance: Yuan
    unrestricted_balance: Yuan
    committed_unspent: Yuan
    available_for_grants: Yuan
    in_kind_total: Yuan
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
