"""Exports, 360Giving: the package validates against the standard's schema and holds every
awarded grant; a spoiled package fails validation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from exporting import PUBLISHED_ON, registers
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from ledger.domain.yuan import format_yuan
from projections.exports import export_360giving
from projections.reader import Reader

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "360giving"


# -- 360Giving ---------------------------------------------------------------------------------


def package_validator() -> Draft202012Validator:
    """The package schema with its grant schema, offline, as fixtures/360giving/SOURCE.md says."""
    checker = Draft202012Validator.FORMAT_CHECKER
    # Without a date-time checker a plain date matches both branches of the dates' oneOf.
    assert "date-time" in checker.checkers, "install jsonschema[format-nongpl]"
    grant = json.loads((SCHEMAS / "360-giving-schema.json").read_text(encoding="utf-8"))
    package = json.loads((SCHEMAS / "360-giving-package-schema.json").read_text(encoding="utf-8"))
    grant_resource = DRAFT202012.create_resource(grant)
    registry: Registry[Any] = Registry().with_resources(
        [
            (grant["$id"], grant_resource),
            # The package refers to the grant schema by its 1.4.2 address.
            (package["properties"]["grants"]["items"]["$ref"], grant_resource),
            (package["$id"], DRAFT202012.create_resource(package)),
        ]
    )
    return Draft202012Validator(package, registry=registry, format_checker=checker)


def problems(package: dict[str, Any]) -> list[str]:
    messages = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in package_validator().iter_errors(package)
    ]
    # The schema says a missing recipient only as a vague oneOf failure: say it plainly.
    messages.extend(
        f"grant {g.get('id')} has no recipient"
        for g in package.get("grants", [])
        if not (g.get("recipientOrganization") or g.get("recipientIndividual"))
    )
    return messages


def test_the_360giving_package_validates_and_holds_every_awarded_grant(reader: Reader) -> None:
    package = export_360giving(reader, published_on=PUBLISHED_ON)
    assert problems(package) == []
    awarded = registers(
        reader,
        "SELECT grant_id, amount_fen, project_code FROM {t}fl_grants"
        " WHERE status IN ('approved', 'closed')",
    )
    grants = package["grants"]
    assert len(grants) == len(awarded) == 7
    assert sorted(g["id"].rsplit("-", 5)[-5:] for g in grants) == sorted(
        a["grant_id"].split("-") for a in awarded
    )
    assert {g["currency"] for g in grants} == {"CNY"}
    assert all(isinstance(g["amountAwarded"], int | float) for g in grants)
    assert sum(Decimal(str(g["amountAwarded"])) for g in grants) == Decimal(
        format_yuan(sum(int(a["amount_fen"]) for a in awarded))
    )
    organisations = {p["organisation"] for p in reader.projects()}
    assert {g["recipientOrganization"][0]["name"] for g in grants} == organisations
    ids = [g["id"] for g in grants] + [
        o["id"] for g in grants for o in g["recipientOrganization"] + g["fundingOrganization"]
    ]
    assert all(i.startswith("360G-") for i in ids)
    # Derived from names, so the same in every store and in every export.
    assert export_360giving(reader, published_on=PUBLISHED_ON) == package

    text = json.dumps(package, ensure_ascii=False)
    people = [r["name"] for r in registers(reader, "SELECT name FROM {t}fl_people")]
    individuals = [
        r["name"]
        for r in registers(reader, "SELECT name FROM {t}fl_donors WHERE kind = 'individual'")
    ]
    payees = [
        r["payee"]
        for r in registers(
            reader, "SELECT DISTINCT payee FROM {t}fl_expenses WHERE payee_kind <> 'organisation'"
        )
    ]
    assert people
    assert individuals
    assert payees
    assert [name for name in people + individuals + payees if name in text] == []


def _amount_as_string(package: dict[str, Any]) -> None:
    grant = package["grants"][0]
    grant["amountAwarded"] = str(grant["amountAwarded"])


def _no_id(package: dict[str, Any]) -> None:
    del package["grants"][0]["id"]


def _unknown_currency(package: dict[str, Any]) -> None:
    package["grants"][0]["currency"] = "RMB"


def _day_first_date(package: dict[str, Any]) -> None:
    package["grants"][0]["awardDate"] = "22/12/2025"


def _no_recipient(package: dict[str, Any]) -> None:
    del package["grants"][0]["recipientOrganization"]


def _no_grants(package: dict[str, Any]) -> None:
    package["grants"] = []


@pytest.mark.parametrize(
    "spoil",
    [_amount_as_string, _no_id, _unknown_currency, _day_first_date, _no_recipient, _no_grants],
)
def test_an_invalid_360giving_package_fails_validation(
    reader: Reader, spoil: Callable[[dict[str, Any]], None]
) -> None:
    package = copy.deepcopy(export_360giving(reader, published_on=PUBLISHED_ON))
    spoil(package)
    assert problems(package) != []
