"""Turning view rows into answers: yuan strings for amounts, and the public variant of each."""

from __future__ import annotations

from typing import Any

from ledger.domain.yuan import format_yuan

INDIVIDUAL_PAYEE = "个人 / individual"


def _amounts(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key.endswith("_fen") and isinstance(value, int):
            out[key.removesuffix("_fen")] = format_yuan(value)
        else:
            out[key] = value
    return out


def donation(row: dict[str, Any], *, public: bool) -> dict[str, Any]:
    out = _amounts(row)
    out["id"] = out.pop("donation_id")
    out["reversed"] = out.get("reversed_position") is not None
    if public:
        return {
            key: out.get(key)
            for key in (
                "id",
                "position",
                "receipt_no",
                "amount",
                "received_on",
                "channel",
                "donor_kind",
                "project_code",
                "in_kind",
                "reversed",
                "reversed_on",
                "reversal_reason",
            )
        } | {"donor": out.get("donor_public_name"), "donor_en": out.get("donor_public_name_en")}
    out["donor"] = out.pop("donor_name", None)
    return out


def expense(row: dict[str, Any], *, public: bool) -> dict[str, Any]:
    out = _amounts(row)
    out["id"] = out.pop("expense_id")
    out["reversed"] = out.get("reversed_position") is not None
    if public:
        out.pop("voucher_sha256", None)
        if out.get("payee_kind") != "organisation":
            out["payee"] = INDIVIDUAL_PAYEE
    return out


def grant(row: dict[str, Any], *, public: bool) -> dict[str, Any]:
    out = _amounts(row)
    out["id"] = out.pop("grant_id")
    out["approvals_by"] = [
        {"member": a.get("name"), "approved_on": a.get("approved_on")}
        | ({} if public else {"member_id": a.get("member_id")})
        for a in row.get("approvals_by", [])
    ]
    if public:
        out.pop("proposer_id", None)
    return out


def opinion(row: dict[str, Any], *, public: bool) -> dict[str, Any]:
    out = dict(row)
    out["id"] = out.pop("opinion_id")
    if public:
        out.pop("author_id", None)
    return out


def statement(data: dict[str, Any], *, public: bool) -> dict[str, Any]:
    donor = data["donor"]
    return {
        "donor": {
            "id": donor["donor_id"],
            "name": donor["public_name"] if public else donor["name"],
            "kind": donor["kind"],
            "disclosure": donor["disclosure"],
        },
        "given_total": data["given_total"],
        "gifts": [donation(g, public=public) for g in data["gifts"]],
        "restricted_projects": [
            {
                "project": p["project"],
                "spent": p["spent"],
                "expenses": [expense(x, public=public) for x in p["expenses"]],
            }
            for p in data["restricted_projects"]
        ],
    }
