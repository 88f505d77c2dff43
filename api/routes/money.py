"""The money path over HTTP: official receipts issued and voided, and the bank reconciliation
the treasurer matches and those who oversee the fund read."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field

from api.deps import IdempotencyKey, ServicesDep, SignedIn
from api.models import PROBLEM_RESPONSES, Id, Strict, Text, Written, link_to_path
from api.routes.commands import _written
from ledger.domain import Role
from ledger.domain.errors import NotPermitted
from ledger.domain.reconciliation import reconciliation_record

# A bank line names the other side, often a person: those who see donors' names.
BANK_LINE_READERS = (Role.TREASURER, Role.COMMITTEE, Role.AUDITOR)

router = APIRouter(prefix="/v1", tags=["money path 资金路径"], responses=PROBLEM_RESPONSES)

ReceiptNo = Annotated[str, Field(min_length=1, max_length=64, examples=["33012025000011"])]
AccountPath = Annotated[
    str, Path(min_length=1, max_length=64, description="A bank account's name: bank, …")
]
MonthPath = Annotated[
    str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM", examples=["2026-03"])
]
LineKey = Annotated[str, Field(min_length=1, max_length=200)]


class OfficialReceiptCreate(Strict):
    donation_id: Id = Field(description="The gift it was issued for.")
    receipt_no: ReceiptNo = Field(description="公益事业捐赠票据 number.")
    issued_on: date = Field(description="Issued on (开具日期).", examples=["2026-01-15"])


class OfficialReceiptVoid(Strict):
    reason: Text = Field(description="Why (作废原因).", examples=["打印错位 / misprinted"])
    voided_on: date = Field(description="Voided on (作废日期).", examples=["2026-01-15"])


class LineMatch(Strict):
    key: LineKey = Field(description="The statement line's key (from the reconciliation).")
    entry_ids: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        min_length=1, max_length=100, description="Book entries adding up to the line."
    )


class LineUnmatch(Strict):
    key: LineKey


@router.post(
    "/official-receipts",
    status_code=201,
    summary="Record an official receipt 捐赠票据",
    responses={
        201: {
            "description": "Written",
            "links": {
                "VoidReceipt": link_to_path(
                    "post",
                    "/v1/official-receipts/{receipt_no}/void",
                    "receipt_no",
                    "$request.body#/receipt_no",
                )
            },
        }
    },
)
def issue_official_receipt(
    body: OfficialReceiptCreate, actor: SignedIn, services: ServicesDep, key: IdempotencyKey = None
) -> Written:
    receipt = services.ledger.issue_official_receipt(
        actor, body.donation_id, body.receipt_no, body.issued_on, idempotency_key=key
    )
    return _written(services, receipt)


@router.post(
    "/official-receipts/{receipt_no}/void", summary="Void an official receipt 作废捐赠票据"
)
def void_official_receipt(
    receipt_no: Annotated[str, Path(min_length=1, max_length=64)],
    body: OfficialReceiptVoid,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    receipt = services.ledger.void_official_receipt(
        actor, receipt_no, body.reason, body.voided_on, idempotency_key=key
    )
    return _written(services, receipt)


@router.get(
    "/reconciliation/{account}/months/{month}", summary="Bank reconciliation 银行余额调节表"
)
def bank_reconciliation(
    account: AccountPath, month: MonthPath, actor: SignedIn, services: ServicesDep
) -> dict[str, Any]:
    """Book and bank balances, the items in transit each way, and whether they reconcile."""
    if actor.role not in BANK_LINE_READERS:
        raise NotPermitted("bank_reconciliation", actor.role, BANK_LINE_READERS)
    return reconciliation_record(services.ledger.bank_reconciliation(account, month))


@router.post("/reconciliation/{account}/match", summary="Match a statement line 勾对")
def reconcile_match(
    account: AccountPath,
    body: LineMatch,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    receipt = services.ledger.reconcile_match(
        actor, account, body.key, body.entry_ids, idempotency_key=key
    )
    return _written(services, receipt)


@router.post("/reconciliation/{account}/unmatch", summary="Undo a match 取消勾对")
def reconcile_unmatch(
    account: AccountPath,
    body: LineUnmatch,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    receipt = services.ledger.reconcile_unmatch(actor, account, body.key, idempotency_key=key)
    return _written(services, receipt)
