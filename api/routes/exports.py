"""Open data and audit exports: the public gets the public variants, a token the full ones."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.access import sight_of
from api.deps import CurrentActor, ServicesDep
from api.models import PROBLEM_RESPONSES
from api.problems import ApiProblem
from ledger.domain import today
from projections import exports

router = APIRouter(prefix="/v1/exports", tags=["open data 开放数据"], responses=PROBLEM_RESPONSES)

Format = Literal["beancount", "360giving", "donations.csv", "grants.csv", "expenses.csv"]
FORMATS: tuple[str, ...] = get_args(Format)


# Each format's own media type: the OpenAPI document names them all.
DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "beancount: text/plain (needs a token); 360giving: JSON; the rest CSV.",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/{name}", summary="Download the books or open data 下载", responses=DOWNLOADS)
def export(
    name: Annotated[Format, Path(description=", ".join(FORMATS))],
    services: ServicesDep,
    actor: CurrentActor,
) -> Response:
    reader = services.reader
    if name == "beancount":
        if actor is None:
            raise ApiProblem(401, "token-required", "the full journal needs a token")
        return Response(
            exports.export_beancount(reader),
            media_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="fund-ledger.beancount"'},
        )
    if name == "360giving":
        try:
            package = exports.export_360giving(reader, published_on=today())
        except ValueError as error:  # no fund yet, or no grant awarded: nothing to publish
            raise ApiProblem(404, "not-found", str(error), what="360giving") from None
        return Response(json.dumps(package, ensure_ascii=False), media_type="application/json")
    if name in {"donations.csv", "grants.csv", "expenses.csv"}:
        data = exports.export_csv(
            reader, name.removesuffix(".csv"), public=actor is None, sight=sight_of(actor)
        )
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    raise ApiProblem(404, "not-found", f"no export {name}; try one of {', '.join(FORMATS)}")
