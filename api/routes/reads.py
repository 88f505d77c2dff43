"""Reads: answered from the views; the public gets the public variant of every one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from api import present
from api.access import sight_of
from api.deps import CurrentActor, FullReader, ServicesDep
from api.models import (
    PROBLEM_RESPONSES,
    TEXT_PATTERN,
    Listing,
    Summary,
    link_to_body,
    link_to_path,
)
from api.problems import ApiProblem
from api.routes.parameters import (
    After,
    AsOf,
    Key,
    KeyPath,
    Limit,
    MaxYuan,
    MinYuan,
    Month,
    PeriodSince,
    PeriodUntil,
    Since,
    Until,
)
from ledger.app import Actor
from ledger.domain.disclosure import GIFT_PROOF, public_donor_id
from ledger.domain.money import parse_yuan
from ledger.domain.yuan import format_yuan
from projections.registers.listings import Page
from projections.sqlview.reading import PAGE_SIZE_MAX

router = APIRouter(prefix="/v1", tags=["read 查询"], responses=PROBLEM_RESPONSES)


def _fen(value: str | None, field: str) -> int | None:
    return None if value is None else parse_yuan(value, field=field, allow_zero=True)


def _listing(page: Page, shape: Any, actor: Actor | None, *, sighted: bool = False) -> Listing:
    """The page in the caller's variant; ``sighted`` shapes take the personal fields too."""
    options: dict[str, Any] = {"public": actor is None}
    if sighted:
        options["sight"] = sight_of(actor)
    return Listing(
        items=[shape(item, **options) for item in page.items], next_after=page.next_after
    )


@router.get("/summary", summary="The fund's position 基金概况")
def summary(
    services: ServicesDep,
    as_of: AsOf = None,
) -> Summary:
    fund = services.reader.fund()
    currency = fund["currency"] if fund else "CNY"
    figures = services.reader.summary(as_of).as_json(currency)
    return Summary.model_validate({**figures, "as_of": as_of})


@router.get("/projects", summary="Projects with their figures 项目")
def projects(services: ServicesDep) -> list[dict[str, Any]]:
    return services.reader.projects()


@router.get(
    "/projects/{project}",
    summary="One project, by id or code 项目详情",
    description="With its grants and its newest 500 opinions.",
)
def project(project: KeyPath, services: ServicesDep, actor: CurrentActor) -> dict[str, Any]:
    code = services.reader.project_code(project) if len(project) > 32 else project
    found = services.reader.project(code) if code else None
    if found is None:
        raise ApiProblem(404, "not-found", f"no project {project}", what="project", key=project)
    public = actor is None
    found["grants"] = [present.grant(g, public=public) for g in found["grants"]]
    # The opinions on the project and on each of its grants, with their threads, oldest first.
    about = services.reader.opinions_about([found["id"], *(g["id"] for g in found["grants"])])
    everything = sorted((o for said in about.values() for o in said), key=lambda o: o["position"])
    found["opinions"] = [present.opinion(o, public=public) for o in everything]
    return found


@dataclass(frozen=True)
class Window:
    """The filters every listing shares: a date range, an amount range, and the page."""

    since: Since = None
    until: Until = None
    min_amount: MinYuan = None
    max_amount: MaxYuan = None
    after: After = 0
    limit: Limit = 100

    def filters(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "min_fen": _fen(self.min_amount, "min_amount"),
            "max_fen": _fen(self.max_amount, "max_amount"),
            "after": self.after,
            "limit": self.limit,
        }


WindowDep = Annotated[Window, Depends()]


# The first row's id, for what a client (or a stateful fuzzer) does next with a listing.
FIRST_ROW_ID = "$response.body#/items/0/id"


def _listing_links(**links: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": "A page of rows", "links": links}}


@router.get(
    "/donations",
    summary="Donations 捐赠",
    responses=_listing_links(
        ReadFirstReceipt=link_to_path(
            "get", "/v1/donations/{donation_id}/receipt", "donation_id", FIRST_ROW_ID
        ),
    ),
)
def donations(
    services: ServicesDep,
    actor: CurrentActor,
    window: WindowDep,
    project: Key = None,
    donor_kind: Key = None,
    receipt_no: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=TEXT_PATTERN, description="Find one gift."),
    ] = None,
) -> Listing:
    page = services.reader.donations(
        project=project, donor_kind=donor_kind, receipt_no=receipt_no, **window.filters()
    )
    return _listing(page, present.donation, actor, sighted=True)


@router.get(
    "/grants",
    summary="Grants 资助",
    responses=_listing_links(
        ChargeFirstGrant=link_to_body("/v1/expenses", "grant_id", FIRST_ROW_ID),
    ),
)
def grants(
    services: ServicesDep,
    actor: CurrentActor,
    window: WindowDep,
    project: Key = None,
    status: Key = None,
) -> Listing:
    page = services.reader.grants(project=project, status=status, **window.filters())
    return _listing(page, present.grant, actor)


@router.get("/expenses", summary="Expenses 支出")
def expenses(
    services: ServicesDep,
    actor: CurrentActor,
    window: WindowDep,
    project: Key = None,
    category: Key = None,
    grant_id: Key = None,
) -> Listing:
    page = services.reader.expenses(
        project=project, category=category, grant_id=grant_id, **window.filters()
    )
    return _listing(page, present.expense, actor, sighted=True)


@router.get("/opinions", summary="Expert-panel opinions 专家意见")
def opinions(
    services: ServicesDep,
    actor: CurrentActor,
    subject_id: Key = None,
    after: After = 0,
    limit: Limit = 100,
) -> Listing:
    page = services.reader.opinions(subject_id=subject_id, after=after, limit=limit)
    return _listing(page, present.opinion, actor)


@router.get(
    "/corrections",
    summary="Every reversal with its reason 更正说明",
    description=f"The newest {PAGE_SIZE_MAX} reversals of donations, and as many of expenses.",
)
def corrections(services: ServicesDep, actor: CurrentActor) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "id": row["id"],
            "amount": format_yuan(int(row["amount_fen"])),
            "original_on": str(row["original_on"])[:10],
            "reversed_on": str(row["reversed_on"])[:10],
            "reason": row["reversal_reason"],
            "position": row["reversed_position"],
        }
        # Who decided, by name, for those who hold a token.
        | ({} if actor is None else {"decided_by": row["decided_by"]})
        for kind, row in services.reader.corrections()
    ]


@router.get(
    "/donors/{donor_id}/statement",
    summary="A donor's gifts and their use 捐赠去向",
    description=f"Up to {PAGE_SIZE_MAX} of the donor's gifts.",
)
def donor_statement(
    donor_id: KeyPath, services: ServicesDep, actor: CurrentActor
) -> dict[str, Any]:
    """A donor's gifts: for the public only a donor whose id is public (an organisation not
    anonymous), since a statement links every gift of its donor; a person's is for token
    holders, and for the treasurer with the secret that lets the donor find their gifts in the
    public log. An unknown id and a person's id look alike to the public."""
    data = services.reader.donor_statement(donor_id)
    if data is None or (
        actor is None and not public_donor_id(data["donor"]["kind"], data["donor"]["disclosure"])
    ):
        raise ApiProblem(404, "not-found", f"no donor {donor_id}", what="donor", key=donor_id)
    sight = sight_of(actor)
    answer = present.statement(data, public=actor is None, sight=sight)
    if GIFT_PROOF in sight:
        secret = services.ledger.donor_secret(donor_id)
        answer["donor_secret"] = secret.hex() if secret else None
    return answer


@router.get("/reports/monthly/{month}", summary="Monthly report 月度报告")
def monthly_report(month: Month, services: ServicesDep) -> dict[str, Any]:
    return services.reader.monthly(month)


@router.get("/reports/statements/{year}", summary="Statutory statements 会民非01-03表与附注")
def statements(
    year: Annotated[int, Path(ge=2000, le=9999, examples=[2026])],
    services: ServicesDep,
    _reader: FullReader,
    month: Annotated[
        int | None, Query(ge=1, le=12, description="To the end of this month of the year.")
    ] = None,
) -> dict[str, Any]:
    """The balance sheet, activities, cash flows, notes and ratios of a year (or of a year to a
    month's end), each with its comparative column: for the committee, auditors and panel."""
    return services.reader.statements(year, month, services.thresholds)


@router.get("/reports/trial-balance", summary="Trial balance 试算平衡表")
def trial_balance(services: ServicesDep, as_of: AsOf = None) -> list[dict[str, str]]:
    return services.reader.trial_balance(as_of)


@router.get("/reports/balance-sheet", summary="Balance sheet 资产负债表")
def balance_sheet(services: ServicesDep, as_of: AsOf = None) -> dict[str, Any]:
    return services.reader.balance_sheet(as_of)


@router.get("/reports/activities", summary="Statement of activities 业务活动表")
def activities(
    services: ServicesDep, since: PeriodSince = None, until: PeriodUntil = None
) -> dict[str, Any]:
    first, last = _period(since, until)
    return services.reader.activities(first, last)


@router.get("/reports/functional-expenses", summary="Expenses by function 功能费用表")
def functional_expenses(
    services: ServicesDep, since: PeriodSince = None, until: PeriodUntil = None
) -> dict[str, Any]:
    first, last = _period(since, until)
    return services.reader.functional_expenses(first, last)


@router.get("/reports/restricted-funds", summary="Restricted funds roll-forward 限定性资金变动")
def restricted_funds(
    services: ServicesDep, since: PeriodSince = None, until: PeriodUntil = None
) -> list[dict[str, str]]:
    first, last = _period(since, until)
    return services.reader.restricted_rollforward(first, last)


def _period(since: date | None, until: date | None) -> tuple[date, date]:
    last = until or date.today()  # noqa: DTZ011 - a default period end, any zone will do
    first = since or date(last.year, 1, 1)
    if first > last:
        raise ApiProblem(422, "invalid-input", "from must not be after to", field="from")
    return first, last


@router.get("/events", summary="The full event log (auditor, committee, adviser) 事件日志")
def events(
    services: ServicesDep,
    _reader: FullReader,
    after: After = 0,
    limit: Limit = 100,
) -> Response:
    rows = [
        {
            "position": position,
            "type": type(event).__qualname__,
            "aggregate_id": str(event.originator_id),
            "version": event.originator_version,
            "recorded_at": event.timestamp.isoformat(),
            "data": {
                k: v
                for k, v in event.__dict__.items()
                if k not in {"originator_id", "originator_version", "timestamp", "originator_topic"}
            },
        }
        for position, event in services.ledger.read_events(after, limit)
    ]
    # Personal data is sealed in the events: each reader sees opened what FIELD_READERS grants
    # its role (or erased), the rest withheld; a user's token hash nobody.
    present.withheld_from(rows, sight_of(_reader))
    services.reader.open_sealed([row["data"] for row in rows], ("name", "contact", "note", "payee"))
    body = {"items": rows, "next_after": rows[-1]["position"] if len(rows) == limit else None}
    return Response(
        json.dumps(body, default=_json_default, ensure_ascii=False), media_type="application/json"
    )


def _json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return dict(value.__dict__)
    return str(value)
