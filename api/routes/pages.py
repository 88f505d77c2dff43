"""The public transparency pages: server-rendered, no script, readable on a phone."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from api import present
from api.charts import Bar, bar_chart
from api.config import PublicSite
from api.deps import ServicesDep
from api.i18n import WORDS, choice, date_words, month_words, period_words, plain, words
from api.problems import ApiProblem
from api.routes.parameters import POSITION_MAX
from api.served import CANTEEN, served
from ledger.domain import FUND_TZ, today
from ledger.domain.money import parse_yuan
from ledger.domain.yuan import format_yuan_grouped
from projections.calendar import Due, calendar

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=FilePath(__file__).resolve().parent.parent / "templates")


def _grouped(yuan: object) -> str:
    """A yuan string as people read it: "1234567.50" -> "1,234,567.50"."""
    text = str(yuan)
    sign = -1 if text.startswith("-") else 1
    return format_yuan_grouped(sign * parse_yuan(text.lstrip("-"), allow_zero=True))


def _grouped_if_yuan(value: object) -> str:
    """A statement's cell: grouped when it is an amount, as it is when it is not (a blank)."""
    text = str(value)
    return _grouped(text) if YUAN.fullmatch(text) else text


YUAN = re.compile(r"-?\d+\.\d{2}")
templates.env.filters["yuan"] = _grouped
templates.env.filters["yuan_or_text"] = _grouped_if_yuan
templates.env.filters["yuan_fen"] = lambda fen: format_yuan_grouped(int(fen))

Lang = Annotated[str, Query(pattern="^(zh|en)$", description="zh (default) or en")]
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DONATIONS_PAGE_SIZE = 50


def _site(request: Request) -> PublicSite:
    site: PublicSite = request.app.state.public_site
    return site


def _render(request: Request, template: str, lang: str, **context: Any) -> HTMLResponse:
    services = request.app.state.services
    fund = services.reader.fund() or {"name": "fund-ledger", "currency": "CNY"}
    names = {p["code"]: _project_label(p, lang) for p in services.reader.projects()}
    return templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "w": words(lang),
            # The same words as plain text, for attributes (a table's cell labels on a phone).
            "t": {key: plain(key, lang) for key in WORDS},
            "project_names": names,
            # Links name the configured address only, never the request's Host header.
            "base_url": _site(request).base_url,
            "choice": lambda value: choice(value, lang),
            "fund": fund,
            "generated_at": datetime.now(FUND_TZ).strftime("%Y-%m-%d %H:%M"),
            "position": services.ledger.position(),
            "other_lang": "zh" if lang == "en" else "en",
            **context,
        },
    )


def _project_label(project: dict[str, Any], lang: str) -> str:
    """A project's short name in the page's language: 一碗长寿面, A Bowl of Longevity Noodles."""
    if lang == "en" and project.get("name_en"):
        return str(project["name_en"]).split(":")[0]
    return str(project["name"]).split(" · ")[0]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep, lang: Lang = "zh") -> HTMLResponse:
    reader = services.reader
    position = reader.summary()
    projects = reader.projects()
    for project in projects:
        project["label"] = _project_label(project, lang)
    income = reader.grouped(["donor_kind"], measure="donations")["rows"]
    monthly = reader.grouped(["month"], measure="expenses")["rows"]
    project_chart = bar_chart(
        [
            Bar(
                p["label"],
                parse_yuan(p["granted"], allow_zero=True),
                parse_yuan(p["spent"], allow_zero=True),
            )
            for p in projects
        ],
        title=plain("granted_vs_spent", lang),
        description="; ".join(f"{p['label']}: {p['spent']} / {p['granted']}" for p in projects),
        chart_id="projects-chart",
    )
    income_chart = bar_chart(
        [Bar(choice(r["donor_kind"], lang), parse_yuan(r["amount"])) for r in income],
        title=plain("income_by_kind", lang),
        description="; ".join(f"{choice(r['donor_kind'], lang)}: {r['amount']}" for r in income),
        chart_id="income-chart",
    )
    month_chart = bar_chart(
        [Bar(r["month"], parse_yuan(r["amount"])) for r in monthly],
        title=plain("spending_by_month", lang),
        description="; ".join(f"{r['month']}: {r['amount']}" for r in monthly),
        chart_id="month-chart",
    )
    return _render(
        request,
        "home.html",
        lang,
        summary=position,
        projects=projects,
        income=income,
        monthly=monthly,
        # The charts escape every text they draw (api/charts.py).
        charts={
            "projects": Markup(project_chart),  # noqa: S704
            "income": Markup(income_chart),  # noqa: S704
            "months": Markup(month_chart),  # noqa: S704
        },
        donations=_newest_first(
            [present.donation(d, public=True) for d in reader.latest("fl_donations", 10)],
            "received_on",
        ),
        expenses=_newest_first(
            [present.expense(x, public=True) for x in reader.latest("fl_expenses", 10)], "paid_on"
        ),
        checkpoint=services.log.checkpoint(),
        public_key=services.signer.verifier.encode() if services.signer else None,
    )


def _newest_first(rows: list[dict[str, Any]], day: str) -> list[dict[str, Any]]:
    """The rows most recently recorded, listed by their own date (a bill recorded late sits
    where its date puts it), then by when they were recorded."""
    return sorted(rows, key=lambda row: (str(row[day]), row["position"]), reverse=True)


@router.get("/projects/{code}", response_class=HTMLResponse)
def project_page(
    request: Request,
    services: ServicesDep,
    code: Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,31}$")],
    lang: Lang = "zh",
) -> HTMLResponse:
    reader = services.reader
    project = reader.project(code)
    if project is None:
        raise ApiProblem(404, "not-found", f"no project {code}", what="project", key=code)
    grants = [present.grant(g, public=True) for g in project["grants"]]
    expenses = _newest_first(
        [present.expense(x, public=True) for x in reader.expenses(project=code, limit=500).items],
        "paid_on",
    )
    opinions = [
        present.opinion(o, public=True) for o in reader.opinions(subject_id=project["id"]).items
    ]
    for grant in grants:
        opinions += [
            present.opinion(o, public=True) for o in reader.opinions(subject_id=grant["id"]).items
        ]
    return _render(
        request,
        "project.html",
        lang,
        project=project,
        label=_project_label(project, lang),
        grants=grants,
        expenses=expenses,
        opinions=opinions,
        **served(reader, code, lang),
    )


@router.get("/donations", response_class=HTMLResponse)
def donations_page(
    request: Request,
    services: ServicesDep,
    lang: Lang = "zh",
    receipt: Annotated[str | None, Query(max_length=64)] = None,
    # Bounded as the API's positions are: a larger one is a 422 problem, never a driver's error.
    after: Annotated[int, Query(ge=0, le=POSITION_MAX)] = 0,
) -> HTMLResponse:
    reader = services.reader
    page = reader.donations(
        receipt_no=receipt.strip() if receipt else None, after=after, limit=DONATIONS_PAGE_SIZE
    )
    items = [present.donation(d, public=True) for d in page.items]
    uses = None
    if receipt and items and items[0]["project_code"]:
        code = items[0]["project_code"]
        uses = {
            "project": reader.project(code),
            "expenses": [
                present.expense(x, public=True)
                for x in reader.expenses(project=code, limit=20).items
            ],
        }
    return _render(
        request,
        "donations.html",
        lang,
        items=items,
        next_after=page.next_after,
        receipt=receipt or "",
        uses=uses,
    )


@router.get("/corrections", response_class=HTMLResponse)
def corrections_page(request: Request, services: ServicesDep, lang: Lang = "zh") -> HTMLResponse:
    items = [
        {
            "kind": kind,
            **row,
            "original_on": str(row["original_on"])[:10],
            "reversed_on": str(row["reversed_on"])[:10],
        }
        for kind, row in services.reader.corrections()
    ]
    return _render(request, "corrections.html", lang, items=items)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, services: ServicesDep, lang: Lang = "zh") -> HTMLResponse:
    reader = services.reader
    months = reader.months()
    fund = reader.fund() or {}
    dues = calendar(
        reader.projects_opened(), reader.first_gift_on(), fund.get("closed_through"), today()
    )
    years = sorted({m["month"][:4] for m in months}, reverse=True)
    closed = {str(year) for year in reader.closed_years()}
    names = {p["code"]: _project_label(p, lang) for p in reader.projects()}
    rows = _due_rows(dues, names, lang)
    for m in months:
        m["words"] = month_words(m["month"], lang)
    return _render(
        request,
        "reports.html",
        lang,
        months=list(reversed(months)),
        years=years,
        dues=rows,
        closed=closed,
    )


def _due_rows(dues: list[Due], names: dict[str, str], lang: str) -> list[dict[str, str]]:
    """The calendar in words, one line a duty: the projects whose progress report for the same
    months falls due the same day in the same state share a line."""
    rows: dict[tuple[str, date, str], dict[str, Any]] = {}
    for due in dues:  # newest due first, and so are the lines
        if due.what == "annual":
            period = f"Year {due.period}" if lang == "en" else f"{due.period}年度"
            key = (f"annual {period}", due.due_on, due.state)
            rows[key] = {"kind": plain("annual_reports", lang), "period": period, "names": []}
        elif due.what in names:
            period = period_words(due.first_month, due.last_month, lang)
            key = (period, due.due_on, due.state)
            row = rows.setdefault(
                key, {"kind": plain("progress_reports", lang), "period": period, "names": []}
            )
            row["names"].append(names[due.what])
    joiner = ", " if lang == "en" else "、"
    return [
        {
            "what": row["kind"],
            "projects": joiner.join(sorted(row["names"])),
            "period": row["period"],
            "due_on": date_words(due_on, lang),
            "state": state,
        }
        for (_, due_on, state), row in rows.items()
    ]


@router.get("/reports/{year}", response_class=HTMLResponse)
def annual_statements_page(
    request: Request,
    services: ServicesDep,
    year: Annotated[int, Path(ge=2000, le=9999)],
    lang: Lang = "zh",
) -> HTMLResponse:
    """The statements of a closed year, as the public may read them: the three forms (a year
    not closed yet says so: its figures may still change)."""
    statements = None
    if year in services.reader.closed_years():
        statements = services.reader.statements(year, None, services.thresholds)
    return _render(request, "annual.html", lang, year=year, statements=statements)


@router.get("/notice/{month}", response_class=HTMLResponse)
def notice_page(
    request: Request,
    services: ServicesDep,
    month: Annotated[str, Path(pattern=MONTH.pattern)],
    lang: Lang = "zh",
) -> HTMLResponse:
    """The monthly notice for the board: one A4 page, its QR code to the configured address."""
    report = services.reader.monthly(month)
    projects = {p["code"]: p for p in services.reader.projects()}
    for row in report["projects"]:
        row["label"] = _project_label(projects.get(row["project"], {"name": row["project"]}), lang)
    site = _site(request)
    url = None
    qr = None
    if site.base_url:
        url = f"{site.base_url}/notice/{month}" + ("?lang=en" if lang == "en" else "")
        qr = Markup(_qr_svg(url))  # noqa: S704 - SVG made by the QR library from our own URL
    issued_on = today()
    until = issued_on + timedelta(days=site.notice_display_days - 1)
    fund = services.reader.fund() or {"name": "fund-ledger"}
    canteen = [m for m in services.reader.canteen_public(CANTEEN) if m["month"] == month]
    return _render(
        request,
        "notice.html",
        lang,
        report=report,
        canteen=canteen[0] if canteen else None,
        month=month,
        month_words=month_words(month, lang),
        url=url,
        qr=qr,
        site=site,
        committee=site.committee_name or f"{fund['name']}管理委员会",
        issued_on=date_words(issued_on, lang),
        display_period=_days_words(issued_on, until, lang),
    )


def _days_words(first: date, last: date, lang: str) -> str:
    joiner = " to " if lang == "en" else "至"
    return f"{date_words(first, lang)}{joiner}{date_words(last, lang)}"


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    svg = re.sub(r"<\?xml[^>]*>", "", svg)
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code" class="qr" ', 1)
