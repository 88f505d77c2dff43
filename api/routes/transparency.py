"""The verifiable log: checkpoints, entries, proofs, and a donor's proof bundle."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from api.access import sight_of
from api.deps import CurrentActor, ServicesDep
from api.models import ID_PATTERN, PROBLEM_RESPONSES
from api.problems import ApiProblem
from ledger.domain.disclosure import GIFT_PROOF
from projections.log.queries import ENTRIES_PAGE_MAX

router = APIRouter(prefix="/v1", tags=["verifiable log 可验证日志"], responses=PROBLEM_RESPONSES)

# Leaf indexes and sizes are BIGINT in the database: a larger one names no entry.
SIZE_MAX = 2**63 - 1
Size = Annotated[int, Query(ge=0, le=SIZE_MAX)]
DonationId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="The gift's id.")
]


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(item).decode() for item in items]


def _proof_problem(error: Exception) -> ApiProblem:
    return ApiProblem(422, "invalid-input", str(error), field="tree_size")


@router.get(
    "/log/checkpoint", response_class=PlainTextResponse, summary="The latest signed checkpoint"
)
def latest_checkpoint(services: ServicesDep) -> str:
    checkpoint = services.log.checkpoint()
    if checkpoint is None:
        raise ApiProblem(404, "not-found", "no checkpoint has been signed yet", what="checkpoint")
    return checkpoint.note


@router.get(
    "/log/checkpoints/{size}", response_class=PlainTextResponse, summary="A past checkpoint"
)
def checkpoint_at(size: Annotated[int, Path(ge=0, le=SIZE_MAX)], services: ServicesDep) -> str:
    checkpoint = services.log.checkpoint(size)
    if checkpoint is None:
        raise ApiProblem(404, "not-found", f"no checkpoint of size {size}", what="checkpoint")
    return checkpoint.note


@router.get("/log/key", response_class=PlainTextResponse, summary="The public key (verifier key)")
def public_key(services: ServicesDep) -> str:
    if services.signer is None:
        raise ApiProblem(404, "not-found", "this service has no signing key", what="key")
    return services.signer.verifier.encode() + "\n"


@router.get(
    "/log/entries",
    summary="Log entries: the exact bytes of each leaf",
    description=f"The entries from `start` up to `end` (exclusive), at most {ENTRIES_PAGE_MAX} "
    "a page; `end` before `start` is refused (422).",
)
def entries(
    services: ServicesDep,
    start: Annotated[int, Query(ge=0, le=SIZE_MAX, description="The first leaf index.")] = 0,
    end: Annotated[
        int | None,
        Query(
            ge=0,
            le=SIZE_MAX,
            description=f"One past the last leaf index; at most `start` + {ENTRIES_PAGE_MAX}.",
        ),
    ] = None,
) -> dict[str, Any]:
    page_end = min(start + ENTRIES_PAGE_MAX, SIZE_MAX)
    stop = min(end if end is not None else page_end, page_end)
    if stop < start:
        raise ApiProblem(422, "invalid-input", "end must not be before start", field="end")
    return {"entries": services.log.entries(start, stop), "size": services.log.size()}


@router.get(
    "/log/proof/inclusion",
    summary="Proof that an entry is in a tree of a given size",
    description="`index` below `tree_size`, and `tree_size` at most the log's size (else 422).",
)
def inclusion(services: ServicesDep, index: Size, tree_size: Size) -> dict[str, Any]:
    try:
        proof = services.log.inclusion_proof(index, tree_size)
    except (ValueError, LookupError) as error:
        raise _proof_problem(error) from None
    return {"index": index, "tree_size": tree_size, "proof": _b64(proof)}


@router.get(
    "/log/proof/consistency",
    summary="Proof that a larger tree extends a smaller one",
    description="`first` at most `second`, and `second` at most the log's size (else 422).",
)
def consistency(
    services: ServicesDep,
    # RFC 9162: no consistency proof starts from the empty tree.
    first: Annotated[int, Query(ge=1, le=SIZE_MAX, description="The smaller tree's size.")],
    second: Annotated[int, Query(ge=1, le=SIZE_MAX, description="The larger tree's size.")],
) -> dict[str, Any]:
    try:
        proof = services.log.consistency_proof(first, second)
    except (ValueError, LookupError) as error:
        raise _proof_problem(error) from None
    return {"first": first, "second": second, "proof": _b64(proof)}


@router.get("/donations/{donation_id}/receipt", summary="A donor's proof bundle 捐赠凭证")
def receipt(donation_id: DonationId, services: ServicesDep, actor: CurrentActor) -> dict[str, Any]:
    """The gift's log entry, its inclusion proof, and the signed checkpoint it verifies against.

    For the treasurer, who hands it to the donor, also the gift's opening: it proves this gift
    is the donor's (its SHA-256 under the reference label is the entry's ``donor_ref``) and
    links no other gift (``ledger.domain.gift_refs``)."""
    position = services.reader.donation_position(donation_id)
    if position is None:
        raise ApiProblem(404, "not-found", f"no donation {donation_id}", what="donation")
    leaf = services.log.leaf_for_position(position)
    checkpoint = services.log.checkpoint()
    if leaf is None or checkpoint is None or int(leaf["leaf_index"]) >= checkpoint.size:
        raise ApiProblem(
            409,
            "not-yet-checkpointed",
            "the gift is not in a signed checkpoint yet; try again in a few seconds",
        )
    index = int(leaf["leaf_index"])
    proof: dict[str, Any] = {}
    if GIFT_PROOF in sight_of(actor):
        opening = services.ledger.gift_opening(donation_id)
        proof["gift_opening"] = opening.hex() if opening else None
    return {
        "donation_id": donation_id,
        "index": index,
        "entry": leaf["data"],
        "tree_size": checkpoint.size,
        "proof": _b64(services.log.inclusion_proof(index, checkpoint.size)),
        "checkpoint": checkpoint.note,
        "key": services.signer.verifier.encode() if services.signer else None,
        **proof,
    }
