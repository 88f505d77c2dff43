"""Open data and audit exports: the public gets the public variants, a token the full ones."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.access import sight_of
from api.deps import CurrentActor, ServicesDep
from api.models import PROBLEM_RESPONSES
from api.problems import ApiProblem
from ledger.domain import today
from projections import exports
from projections.exports.tables import table_xlsx

router = APIRouter(prefix="/v1/exports", tags=["open data 开放数据"], responses=PROBLEM_RESPONSES)

REGISTERS = ("donations", "grants", "expenses", "corrections", "opinions")
FORMATS = (
    "beancount",
    "360giving",
    *(f"{kind}.{suffix}" for kind in REGISTERS for suffix in ("csv", "xlsx")),
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The names it takes, as a pattern the OpenAPI document states.
FORMAT_PATTERN = "^(?:" + "|".join(re.escape(name) for name in FORMATS) + ")$"


# Each format's own media type: the OpenAPI document names them all.
DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "beancount: text/plain (needs a token); 360giving: JSON; the registers "
        "CSV or XLSX.",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.get("/{name}", summary="Download the books or open data 下载", responses=DOWNLOADS)
def export(
    name: Annotated[str, Path(pattern=FORMAT_PATTERN, description=", ".join(FORMATS))],
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
    kind, _, suffix = name.partition(".")
    if kind in REGISTERS and suffix in {"csv", "xlsx"}:
        public, sight = actor is None, sight_of(actor)
        if suffix == "csv":
            data, media = exports.export_csv(reader, kind, public=public, sight=sight), "text/csv"
        else:
            headers, rows = exports.register_table(reader, kind, public=public, sight=sight)
            data, media = table_xlsx(headers, rows, kind), XLSX
        return Response(
            data,
            media_type=f"{media}; charset=utf-8" if suffix == "csv" else media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    raise ApiProblem(404, "not-found", f"no export {name}; try one of {', '.join(FORMATS)}")
