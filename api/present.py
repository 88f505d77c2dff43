"""Turning view rows into answers: yuan strings for amounts, the public variant of each, and
of the full one the personal fields the caller may see (``api.access.sight_of``)."""

from __future__ import annotations

from typing import Any

from ledger.domain.disclosure import (
    DONOR_CONTACT,
    DONOR_NAME,
    GIFT_NOTE,
    PAYEE_NAME,
    VOUCHER_HASH,
)
from ledger.domain.sealing import is_sealed
from ledger.domain.yuan import format_yuan

Sight = frozenset[str]

INDIVIDUAL_PAYEE = "个人 / individual"


def _amounts(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key.endswith("_fen") and isinstance(value, int):
            out[key.removesuffix("_fen")] = format_yuan(value)
        else:
            out[key] = value
    return out


def donation(row: dict[str, Any], *, public: bool, sight: Sight = frozenset()) -> dict[str, Any]:
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
    name = out.pop("donor_name", None)
    out["donor"] = name if DONOR_NAME in sight else out.get("donor_public_name")
    if GIFT_NOTE not in sight:
        out.pop("note", None)
    return out


def expense(row: dict[str, Any], *, public: bool, sight: Sight = frozenset()) -> dict[str, Any]:
    out = _amounts(row)
    out["id"] = out.pop("expense_id")
    out["reversed"] = out.get("reversed_position") is not None
    if public or VOUCHER_HASH not in sight:
        out.pop("voucher_sha256", None)
    if (public or PAYEE_NAME not in sight) and out.get("payee_kind") != "organisation":
        out["payee"] = INDIVIDUAL_PAYEE
    return out


# Who decided, by id and by name: for those who hold a token.
DECIDERS = ("proposer_id", "proposer_name", "decided_by", "decided_by_name", "closed_by")
DECIDERS_MORE = ("closed_by_name",)
# The public reads who spoke by their role, not their name.
SPEAKERS = {"answer": "基金管理委员会 / committee", "superseded": "专家 / panel member"}


def grant(row: dict[str, Any], *, public: bool) -> dict[str, Any]:
    out = _amounts(row)
    out["id"] = out.pop("grant_id")
    out["approvals_by"] = [
        {"member": a.get("name"), "approved_on": a.get("approved_on")}
        | ({} if public else {"member_id": a.get("member_id")})
        for a in row.get("approvals_by", [])
    ]
    out["opinions"] = [opinion(o, public=public) for o in row.get("opinions", [])]
    if public:
        for key in (*DECIDERS, *DECIDERS_MORE):
            out.pop(key, None)
    return out


def opinion(row: dict[str, Any], *, public: bool) -> dict[str, Any]:
    out = dict(row)
    out["id"] = out.pop("opinion_id")
    out["thread"] = [dict(note) for note in row.get("thread", [])]
    if public:
        out.pop("author_id", None)
        out.pop("author", None)
        for note in out["thread"]:
            note.pop("author_id", None)
            note["author"] = SPEAKERS.get(note["kind"], "")
    return out


def statement(data: dict[str, Any], *, public: bool, sight: Sight = frozenset()) -> dict[str, Any]:
    donor = data["donor"]
    shown_name = not public and (DONOR_NAME in sight or donor["kind"] != "individual")
    return {
        "donor": {
            "id": donor["donor_id"],
            "name": donor["name"] if shown_name else donor["public_name"],
            "kind": donor["kind"],
            "disclosure": donor["disclosure"],
        },
        "given_total": data["given_total"],
        "gifts": [donation(g, public=public, sight=sight) for g in data["gifts"]],
        "restricted_projects": [
            {
                "project": p["project"],
                "spent": p["spent"],
                "expenses": [expense(x, public=public, sight=sight) for x in p["expenses"]],
            }
            for p in data["restricted_projects"]
        ],
    }


# What a reader of the raw log sees of a personal field its role is not given.
WITHHELD = "（不可见）withheld"
# An event's sealed fields, by the personal field they are.
SEALED_FIELDS = {
    "name": DONOR_NAME,
    "contact": DONOR_CONTACT,
    "note": GIFT_NOTE,
    "payee": PAYEE_NAME,
}


def withheld_from(rows: list[dict[str, Any]], sight: Sight) -> None:
    """Raw events as a reader of the log may see them: a sealed field its role is not given
    withheld, a voucher's hash likewise, and no user's token hash for anyone."""
    for row in rows:
        data = row["data"]
        data.pop("token_sha256", None)
        for key, field in SEALED_FIELDS.items():
            if field not in sight and is_sealed(data.get(key)):
                data[key] = WITHHELD
        if VOUCHER_HASH not in sight and "voucher_sha256" in data:
            data["voucher_sha256"] = WITHHELD
