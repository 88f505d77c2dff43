"""The fund's approved and closed grants as a 360Giving data package (schema 1.4)."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.domain.yuan import FEN_PER_YUAN
from projections.exports.rows import every_row, text_of
from projections.reader import Reader
from projections.sqlview.reading import PAGE_SIZE_MAX

TITLE_CHARS_MAX = 140  # 360Giving asks for grant titles under 140 characters
SCHEMA_VERSION_360GIVING = "1.4"
AWARDED_STATUSES = ("approved", "closed")


def _digest(name: str) -> str:
    """A stable short key for a name: the same organisation gets the same id in every store."""
    normal = unicodedata.normalize("NFKC", name).strip()
    return hashlib.sha256(normal.encode()).hexdigest()[:12]


def funder_identifier(fund_name: str) -> str:
    """The fund's 360Giving identifier, also the prefix of its grant and recipient ids."""
    return f"360G-fundledger-{_digest(fund_name)}"


def _yuan_number(amount_fen: int) -> int | float:
    """Yuan as a JSON number that reads back as exactly the two-decimal amount."""
    whole, frac = divmod(amount_fen, FEN_PER_YUAN)
    if frac == 0:
        return whole
    exact = Decimal(amount_fen).scaleb(-2)
    number = float(exact)
    # Below 10**13 yuan a double's shortest repr is the two-decimal amount: checked, not hoped.
    assert Decimal(repr(number)) == exact, (amount_fen, number)
    return number


def _grant_record(
    grant: dict[str, Any],
    project: dict[str, Any],
    funder: dict[str, str],
    currency: str,
) -> dict[str, Any]:
    prefix = funder["id"]
    # A project without a recorded implementer is run by its own team, named after it.
    recipient = str(project.get("organisation") or project["name"])
    name_en = f" ({project['name_en']})" if project.get("name_en") else ""
    about = f"：{project['description']}" if project.get("description") else ""
    record: dict[str, Any] = {
        "id": f"{prefix}-{grant['grant_id']}",
        "title": str(grant["purpose"])[:TITLE_CHARS_MAX],
        "description": f"{grant['purpose']} / {project['name']}{name_en}{about}",
        "currency": currency,
        "amountAwarded": _yuan_number(int(grant["amount_fen"])),
        "amountDisbursed": _yuan_number(int(grant["spent_fen"])),
        "awardDate": text_of(grant["decided_on"]),
        "recipientOrganization": [{"id": f"{prefix}-org-{_digest(recipient)}", "name": recipient}],
        "fundingOrganization": [dict(funder)],
        "grantProgramme": [{"code": str(grant["project_code"]), "title": str(project["name"])}],
    }
    if grant["status"] == "closed" and grant.get("closed_on"):
        record["actualDates"] = [
            {"startDate": text_of(grant["decided_on"]), "endDate": text_of(grant["closed_on"])}
        ]
    return record


def export_360giving(reader: Reader, *, published_on: date) -> dict[str, Any]:
    """The fund's approved and closed grants as a 360Giving data package (schema 1.4).

    Recipients are the projects' implementing organisations, never people; proposers and
    approvers are left out. A package needs at least one grant, so a fund that has awarded
    none raises ``ValueError`` rather than return a file 360Giving would refuse.
    """
    fund = reader.fund()
    if fund is None:
        msg = "no fund is established in this store"
        raise ValueError(msg)
    name = str(fund["name"])
    currency = str(fund["currency"])
    funder = {"id": funder_identifier(name), "name": name}
    projects = reader.projects_by_code()
    grants = [
        _grant_record(grant, projects[grant["project_code"]], funder, currency)
        for grant in every_row(lambda after: reader.grants(after=after, limit=PAGE_SIZE_MAX))
        if grant["status"] in AWARDED_STATUSES
    ]
    if not grants:
        msg = "the fund has no approved or closed grants to publish"
        raise ValueError(msg)
    return {
        "version": SCHEMA_VERSION_360GIVING,
        "title": f"{name} 资助 grants",
        "description": f"{name}已批准与已结项的资助 / approved and closed grants, in {currency}.",
        "identifier": f"{funder['id']}-{published_on.isoformat()}",
        "issued": published_on.isoformat(),
        "publisher": {"identifier": funder["id"], "name": name},
        "grants": grants,
    }
