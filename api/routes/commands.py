"""Writes: each route parses its body, gives one command, and waits until the views show it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import IdempotencyKey, ServicesDep, SignedIn, SignedWriter
from api.models import (
    PROBLEM_RESPONSES,
    DonationBatch,
    DonationCreate,
    DonorCreate,
    ExpenseCreate,
    GrantCreate,
    OpinionCreate,
    ProjectCreate,
    Reason,
    Written,
    link_to_body,
    link_to_path,
)
from api.services import Services
from ledger.app import Receipt
from ledger.domain.money import parse_yuan

router = APIRouter(prefix="/v1", tags=["record and decide 记账与决策"], responses=PROBLEM_RESPONSES)
# The hot path (single donations, the payment platforms' webhooks): its route checks its own
# token (``SignedWriter``), so it is included without the app's token check that every other
# router carries, which would read the Directory again for each gift.
hot_router = APIRouter(
    prefix="/v1", tags=["record and decide 记账与决策"], responses=PROBLEM_RESPONSES
)

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
IdPath = Annotated[str, Path(min_length=1, max_length=64, description="An id the ledger gave.")]

# OpenAPI links: what a client (or a stateful fuzzer) can do next with the id a write made.
MADE_ID = "$response.body#/id"
FIRST_ID = "$response.body#/ids/0"


def _links(status: int, **links: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": "Written", "links": links}}


def _written(services: Services, receipt: Receipt) -> Written:
    services.read_your_write(receipt.position)
    return _answer(receipt)


def _answer(receipt: Receipt) -> Written:
    return Written(
        id=receipt.id,
        ids=list(receipt.ids) or None,
        position=receipt.position,
        replayed=receipt.replayed,
    )


@router.post(
    "/donors",
    status_code=201,
    summary="Register a donor 登记捐赠人",
    responses=_links(
        201,
        RecordDonation=link_to_body("/v1/donations", "donor_id", MADE_ID),
        ReadStatement=link_to_path("get", "/v1/donors/{donor_id}/statement", "donor_id", MADE_ID),
        ForgetDonor=link_to_path("post", "/v1/people/{person_id}/forget", "person_id", MADE_ID),
    ),
)
def register_donor(
    body: DonorCreate, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    receipt = services.ledger.register_donor(
        actor, body.name, body.kind, body.disclosure, body.contact, idempotency_key=key
    )
    return _written(services, receipt)


@router.post(
    "/projects",
    status_code=201,
    summary="Open a project 新建项目",
    responses=_links(
        201,
        ProposeGrant=link_to_body("/v1/grants", "project_id", MADE_ID),
        ReadProject=link_to_path("get", "/v1/projects/{project}", "project", MADE_ID),
        RestrictDonation=link_to_body("/v1/donations", "project_id", MADE_ID),
        RecordProjectOpinion=link_to_body("/v1/opinions", "subject_id", MADE_ID),
    ),
)
def open_project(
    body: ProjectCreate, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    receipt = services.ledger.open_project(
        actor,
        body.code,
        body.name,
        body.name_en,
        body.description,
        body.organisation,
        idempotency_key=key,
    )
    return _written(services, receipt)


@hot_router.post(
    "/donations",
    status_code=201,
    summary="Record a donation 登记捐赠",
    responses=_links(
        201,
        ReverseDonation=link_to_path(
            "post", "/v1/donations/{donation_id}/reverse", "donation_id", MADE_ID
        ),
        ReadReceipt=link_to_path(
            "get", "/v1/donations/{donation_id}/receipt", "donation_id", MADE_ID
        ),
    ),
)
async def record_donation(
    body: DonationCreate, writer: SignedWriter, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    """The webhook path of the payment platforms: asynchronous, so that a gift waiting for its
    batch's commit and for the views holds no worker thread (each is a future the writer and
    the view runner settle), and let in on a known token without a query."""
    order = services.ledger.donation_order(
        writer.actor,
        body.donor_id,
        parse_yuan(body.amount),
        body.received_on,
        body.channel,
        body.receipt_no,
        body.project_id,
        body.note,
        idempotency_key=key,
    )
    if writer.token_sha256 is not None:
        order = replace(order, token_sha256=writer.token_sha256)
    receipt = await services.record_donation_async(order)
    await services.gift_answered(receipt.position)
    return _answer(receipt)


@router.post(
    "/donations/batch",
    status_code=201,
    summary="Record up to 10,000 donations, all or none 批量登记",
    responses=_links(
        201,
        ReverseFirstDonation=link_to_path(
            "post", "/v1/donations/{donation_id}/reverse", "donation_id", FIRST_ID
        ),
        ReadFirstReceipt=link_to_path(
            "get", "/v1/donations/{donation_id}/receipt", "donation_id", FIRST_ID
        ),
    ),
)
def record_donations(
    body: DonationBatch, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    items = [
        {
            "donor_id": d.donor_id,
            "amount_fen": parse_yuan(d.amount, field=f"donations[{i}].amount"),
            "received_on": d.received_on,
            "channel": d.channel,
            "receipt_no": d.receipt_no,
            "project_id": d.project_id,
            "note": d.note,
        }
        for i, d in enumerate(body.donations)
    ]
    return _written(services, services.ledger.record_donations(actor, items, idempotency_key=key))


@router.post("/donations/{donation_id}/reverse", summary="Reverse a donation 冲销捐赠")
def reverse_donation(
    donation_id: IdPath,
    body: Reason,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    receipt = services.ledger.reverse_donation(actor, donation_id, body.reason, idempotency_key=key)
    return _written(services, receipt)


@router.post(
    "/grants",
    status_code=201,
    summary="Propose a grant 提议资助",
    responses=_links(
        201,
        ApproveGrant=link_to_path("post", "/v1/grants/{grant_id}/approve", "grant_id", MADE_ID),
        RejectGrant=link_to_path("post", "/v1/grants/{grant_id}/reject", "grant_id", MADE_ID),
        CloseGrant=link_to_path("post", "/v1/grants/{grant_id}/close", "grant_id", MADE_ID),
        RecordExpense=link_to_body("/v1/expenses", "grant_id", MADE_ID),
        RecordOpinion=link_to_body("/v1/opinions", "subject_id", MADE_ID),
    ),
)
def propose_grant(
    body: GrantCreate, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    receipt = services.ledger.propose_grant(
        actor, body.project_id, parse_yuan(body.amount), body.purpose, idempotency_key=key
    )
    return _written(services, receipt)


@router.post("/grants/{grant_id}/approve", summary="Approve a grant 批准资助")
def approve_grant(
    grant_id: IdPath, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    return _written(services, services.ledger.approve_grant(actor, grant_id, idempotency_key=key))


@router.post("/grants/{grant_id}/reject", summary="Reject a grant 否决资助")
def reject_grant(
    grant_id: IdPath,
    body: Reason,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    receipt = services.ledger.reject_grant(actor, grant_id, body.reason, idempotency_key=key)
    return _written(services, receipt)


@router.post("/grants/{grant_id}/close", summary="Close a grant, releasing what is left 结项")
def close_grant(
    grant_id: IdPath, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    return _written(services, services.ledger.close_grant(actor, grant_id, idempotency_key=key))


@router.post(
    "/expenses",
    status_code=201,
    summary="Record an expense 登记支出",
    responses=_links(
        201,
        ReverseExpense=link_to_path(
            "post", "/v1/expenses/{expense_id}/reverse", "expense_id", MADE_ID
        ),
        ForgetPayee=link_to_path("post", "/v1/people/{person_id}/forget", "person_id", MADE_ID),
    ),
)
def record_expense(
    body: ExpenseCreate, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    receipt = services.ledger.record_expense(
        actor,
        body.grant_id,
        parse_yuan(body.amount),
        body.paid_on,
        body.payee,
        body.category,
        body.description,
        body.voucher_no,
        body.voucher_sha256,
        body.payee_kind,
        idempotency_key=key,
    )
    return _written(services, receipt)


@router.post("/expenses/{expense_id}/reverse", summary="Reverse an expense 冲销支出")
def reverse_expense(
    expense_id: IdPath,
    body: Reason,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    receipt = services.ledger.reverse_expense(actor, expense_id, body.reason, idempotency_key=key)
    return _written(services, receipt)


@router.post(
    "/opinions",
    status_code=201,
    summary="Record an expert opinion 专家意见",
    responses=_links(
        201,
        AnswerOpinion=link_to_path(
            "post", "/v1/opinions/{opinion_id}/answer", "opinion_id", MADE_ID
        ),
        SupersedeOpinion=link_to_path(
            "post", "/v1/opinions/{opinion_id}/supersede", "opinion_id", MADE_ID
        ),
    ),
)
def record_opinion(
    body: OpinionCreate, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    receipt = services.ledger.record_opinion(actor, body.subject_id, body.text, idempotency_key=key)
    return _written(services, receipt)


@router.post("/periods/{month}/close", summary="Close the books through a month 月度结账")
def close_period(
    month: Annotated[str, Path(pattern=MONTH.pattern, description="YYYY-MM", examples=["2026-01"])],
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    return _written(services, services.ledger.close_period(actor, month, idempotency_key=key))


@router.post(
    "/people/{person_id}/forget",
    summary="Erase a person's data for good 删除个人信息 (PIPL)",
    description="A donor's id, or the id of an expense paid to an individual: their key is "
    "destroyed, so their name, contact details and notes read as erased everywhere; amounts and "
    "the transparency log stay. The committee decides; doing it again changes nothing.",
)
def forget_person(person_id: IdPath, actor: SignedIn, services: ServicesDep) -> Written:
    return _written(services, services.ledger.forget_person(actor, person_id))
