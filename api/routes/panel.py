"""The panel's workbench: any question in one request (``/v1/query``), as JSON, CSV or XLSX."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import Response

from api.access import sight_of
from api.deps import CurrentActor, IdempotencyKey, ServicesDep, SignedIn
from api.models import ID_PATTERN, PROBLEM_RESPONSES, IsoDate, OpinionTurn, Reason, Written
from api.problems import ApiProblem
from ledger.app import Receipt
from ledger.service.kernel import check_right
from projections.canteen.queries import meals_table
from projections.exports.tables import table_csv, table_xlsx
from projections.panel.facts import Audience, Window
from projections.panel.query import DIMENSIONS, MEASURES, QuerySpec, query_table

router = APIRouter(prefix="/v1", tags=["read 查询"], responses=PROBLEM_RESPONSES)

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON; or CSV (UTF-8 with a BOM) or XLSX, by `format` or `Accept`.",
        "content": {CSV: {"schema": {"type": "string"}}, XLSX: {"schema": {"type": "string"}}},
    }
}

_NAME = r"[a-z_]{1,30}"
Format = Annotated[
    str | None,
    Query(
        pattern="^(json|csv|xlsx)$",
        description="json, csv or xlsx; else the `Accept` header decides (JSON by default).",
    ),
]
AcceptHeader = Annotated[str | None, Header(max_length=500, include_in_schema=False)]


def chosen_format(fmt: str | None, accept: str | None) -> str:
    """The format asked for: the parameter first, then the Accept header, JSON by default."""
    if fmt is not None:
        return fmt
    accept = (accept or "").lower()
    if XLSX in accept:
        return "xlsx"
    if CSV in accept:
        return "csv"
    return "json"


def as_file(fmt: str, name: str, headers: list[str], rows: list[list[object]]) -> Response | None:
    """The table as a download in ``fmt``; None for JSON, which the route returns itself."""
    if fmt == "csv":
        body, media = table_csv(headers, rows), f"{CSV}; charset=utf-8"
    elif fmt == "xlsx":
        body, media = table_xlsx(headers, rows, name), XLSX
    else:
        return None
    disposition = f'attachment; filename="{name}.{fmt}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})


@dataclass(frozen=True)
class QueryParams:
    group_by: Annotated[
        str,
        Query(
            description=f"1 to 4 of: {', '.join(DIMENSIONS)}, comma-separated.",
            examples=["project,month,category"],
            pattern=f"^{_NAME}(,{_NAME}){{0,3}}$",
            max_length=130,
        ),
    ]
    measure: Annotated[
        str | None,
        Query(
            description=f"Comma-separated, the first one sorted and pivoted: {', '.join(MEASURES)}."
            " Default: donations when grouping by donor, donor_kind or channel, else expenses."
            " Or `meals` alone: meals at the canteen, people served, subsidy and cost per meal,"
            " grouped by project, month and age_band (counts under 5 read <5).",
            pattern=f"^{_NAME}(,{_NAME}){{0,7}}$",
            max_length=260,
        ),
    ] = None
    since: Annotated[
        IsoDate | None, Query(alias="from", description="From this date; not after `to`.")
    ] = None
    until: Annotated[IsoDate | None, Query(alias="to", description="To this date.")] = None
    project: Annotated[
        str | None, Query(pattern=r"^[a-z0-9_-]{1,40}$", description="One project's code.")
    ] = None
    pivot: Annotated[
        str | None,
        Query(pattern=f"^{_NAME}$", description="One of group_by, laid out across as columns."),
    ] = None
    sort: Annotated[
        str, Query(pattern="^(key|value)$", description="key (default) or value, largest first.")
    ] = "key"
    limit: Annotated[int | None, Query(ge=1, le=5000, description="The first rows only.")] = None


@router.get("/query", summary="The panel's own questions 自定义统计", responses=FILE_RESPONSES)
def query(
    services: ServicesDep,
    actor: CurrentActor,
    params: Annotated[QueryParams, Depends()],
    format: Format = None,
    accept: AcceptHeader = None,
) -> Any:
    """Sums of any measure grouped by up to four dimensions, with each code's Chinese label,
    each group's share of the total, and a pivot when asked. Individual payees and donors are
    grouped by who they are, and shown as the caller's rights allow: the public sees them
    pooled, the panel numbered, who may see their names by name."""
    if params.since and params.until and params.since > params.until:
        raise ApiProblem(422, "invalid-input", "from must not be after to", field="from")
    fmt = chosen_format(format, accept)
    if params.measure == "meals":
        return _meals(services, params, fmt)
    spec = QuerySpec(
        group_by=tuple(params.group_by.split(",")),
        measures=tuple(params.measure.split(",")) if params.measure else (),
        window=Window(params.since, params.until, params.project),
        pivot=params.pivot,
        sort=params.sort,
        limit=params.limit,
    )
    audience = Audience(public=actor is None, sight=sight_of(actor))
    answer = services.reader.panel_query(spec, audience)
    if fmt == "json":
        return answer
    headers, rows = query_table(answer)
    return as_file(fmt, "query", headers, rows)


def _meals(services: ServicesDep, params: QueryParams, fmt: str) -> Any:
    """The canteen's meals, people served, subsidy and cost per meal by project, month and age
    band (counts under 5 read "<5" for everyone: the people served are never singled out)."""
    keys = params.group_by.split(",")
    answer = services.reader.served_grouped(keys, params.since, params.until)
    if fmt == "json":
        return answer
    return as_file(fmt, "meals", *meals_table(answer))


WarningPath = Annotated[
    str, Path(min_length=1, max_length=64, description="A warning's id from /v1/checks.")
]
CHECK_COLUMNS = ("id", "kind_label", "detail", "amount", "on", "rule", "explained")


@router.get(
    "/checks",
    summary="Warnings for the panel and committee 风险提示",
    responses=FILE_RESPONSES,
)
def checks(
    services: ServicesDep,
    actor: SignedIn,
    kind: Annotated[
        str | None, Query(pattern=f"^{_NAME}$", description="Only warnings of this kind.")
    ] = None,
    format: Format = None,
    accept: AcceptHeader = None,
) -> Any:
    """Every warning on the books as they stand (the rules are in each one), with the records
    behind it and the committee's explanations. For token holders: the warnings add up
    payments per payee."""
    found = services.reader.checks(Audience(public=False, sight=sight_of(actor)))
    if kind is not None:
        found = [w for w in found if w["kind"] == kind]
    fmt = chosen_format(format, accept)
    if fmt == "json":
        return {"items": found, "count": len(found)}
    headers = [
        "编号 / id",
        "类型 / kind",
        "说明 / detail",
        "金额（元） / amount",
        "日期 / on",
        "规则 / rule",
        "已解释 / explained",
        "解释 / explanations",
    ]
    rows: list[list[object]] = [
        [*(w.get(c) for c in CHECK_COLUMNS[:-1]), w["explained"], _said(w)] for w in found
    ]
    return as_file(fmt, "checks", headers, rows)


def _said(warning: dict[str, Any]) -> str:
    return "; ".join(f"{e['on']} {e['by']}: {e['reason']}" for e in warning["explanations"])


@router.post(
    "/checks/{warning_id}/explain",
    status_code=201,
    summary="Explain a warning (committee) 说明风险提示",
    tags=["record and decide 记账与决策"],
)
def explain_warning(
    warning_id: WarningPath,
    body: Reason,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    """The committee records why a warning is not a problem: an event; the warning stays,
    shown with the reason, who gave it and when."""
    check_right(actor, "explain_warning")
    current = {w["id"] for w in services.reader.checks(Audience(public=False, sight=frozenset()))}
    if warning_id not in current:
        raise ApiProblem(
            404, "not-found", f"no warning {warning_id}", what="warning", key=warning_id
        )
    receipt = services.ledger.explain_warning(actor, warning_id, body.reason, idempotency_key=key)
    return _written(services, receipt)


OpinionPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="An opinion's id.")
]


@router.post(
    "/opinions/{opinion_id}/answer",
    status_code=201,
    summary="Answer an expert opinion (committee) 答复专家意见",
    tags=["record and decide 记账与决策"],
)
def answer_opinion(
    opinion_id: OpinionPath,
    body: OpinionTurn,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    receipt = services.ledger.answer_opinion(actor, opinion_id, body.text, idempotency_key=key)
    return _written(services, receipt)


@router.post(
    "/opinions/{opinion_id}/supersede",
    status_code=201,
    summary="Supersede one's own opinion (its author) 修订专家意见",
    tags=["record and decide 记账与决策"],
)
def supersede_opinion(
    opinion_id: OpinionPath,
    body: OpinionTurn,
    actor: SignedIn,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> Written:
    receipt = services.ledger.supersede_opinion(actor, opinion_id, body.text, idempotency_key=key)
    return _written(services, receipt)


def _written(services: ServicesDep, receipt: Receipt) -> Written:
    services.read_your_write(receipt.position)
    return Written(
        id=receipt.id,
        ids=list(receipt.ids) or None,
        position=receipt.position,
        replayed=receipt.replayed,
    )
