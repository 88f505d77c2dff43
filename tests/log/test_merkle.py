"""Tests for ledger.log.merkle: the RFC 6962 reference vectors, hashes and roots."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from rfc6962 import LEAF_COUNT, LEAVES, ROOTS

from ledger.log.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rfc6962"
INCLUSION_FILES = sorted((FIXTURES / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((FIXTURES / "consistency").rglob("*.json"))
HAPPY_INCLUSION_FILES = sorted((FIXTURES / "inclusion").glob("*/happy-path.json"))
HAPPY_CONSISTENCY_FILES = sorted((FIXTURES / "consistency").glob("*/happy-path.json"))

# The eight standard RFC 6962 test leaves and the roots of their prefixes, from SOURCE.md.
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
REFERENCE_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
REFERENCE_LEAF_HASHES = [leaf_hash(data) for data in REFERENCE_LEAVES]


def _fixture_id(path: Path) -> str:
    return path.relative_to(FIXTURES).as_posix()


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return case


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _proof(case: dict[str, Any]) -> list[bytes]:
    # Go writes an empty proof as null.
    return [_b64(item) for item in case["proof"] or []]


# --- the reference vectors ---------------------------------------------------------------------


def test_fixture_snapshot_is_complete() -> None:
    # An empty parametrisation would pass silently if the fixtures moved; pin the snapshot.
    cases = [_load(path) for path in INCLUSION_FILES + CONSISTENCY_FILES]
    assert len(INCLUSION_FILES) == 98
    assert len(CONSISTENCY_FILES) == 98
    assert sum(case["wantErr"] for case in cases) == 184
    assert len(HAPPY_INCLUSION_FILES) == 5
    assert len(HAPPY_CONSISTENCY_FILES) == 5


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=_fixture_id)
def test_inclusion_fixture(path: Path) -> None:
    case = _load(path)
    accepted = verify_inclusion(
        _b64(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case), _b64(case["root"])
    )
    assert accepted is not case["wantErr"], case["desc"]


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=_fixture_id)
def test_consistency_fixture(path: Path) -> None:
    case = _load(path)
    accepted = verify_consistency(
        case["size1"], case["size2"], _proof(case), _b64(case["root1"]), _b64(case["root2"])
    )
    assert accepted is not case["wantErr"], case["desc"]


@pytest.mark.parametrize("size", range(len(REFERENCE_ROOTS)))
def test_reference_roots(size: int) -> None:
    frontier = MerkleFrontier()
    for leaf in REFERENCE_LEAF_HASHES[:size]:
        frontier.append(leaf)
    assert root_hash(REFERENCE_LEAF_HASHES[:size]).hex() == REFERENCE_ROOTS[size]
    assert frontier.root().hex() == REFERENCE_ROOTS[size]


@pytest.mark.parametrize("path", HAPPY_INCLUSION_FILES, ids=_fixture_id)
def test_generated_inclusion_proof_equals_fixture(path: Path) -> None:
    case = _load(path)
    index, tree_size = case["leafIdx"], case["treeSize"]
    assert _b64(case["leafHash"]) == REFERENCE_LEAF_HASHES[index]
    assert _b64(case["root"]).hex() == REFERENCE_ROOTS[tree_size]
    assert inclusion_proof(REFERENCE_LEAF_HASHES, index, tree_size) == _proof(case)


@pytest.mark.parametrize("path", HAPPY_CONSISTENCY_FILES, ids=_fixture_id)
def test_generated_consistency_proof_equals_fixture(path: Path) -> None:
    case = _load(path)
    size1, size2 = case["size1"], case["size2"]
    assert _b64(case["root1"]).hex() == REFERENCE_ROOTS[size1]
    assert _b64(case["root2"]).hex() == REFERENCE_ROOTS[size2]
    assert consistency_proof(REFERENCE_LEAF_HASHES, size1, size2) == _proof(case)


# --- hashing and roots -------------------------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = LEAVES[0], LEAVES[1]
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert leaf_hash(left + right) != node_hash(left, right)


def test_node_hash_refuses_anything_but_two_hashes() -> None:
    with pytest.raises(ValueError, match="two 32-byte hashes"):
        node_hash(LEAVES[0][:31], LEAVES[1] + b"\x00")


def test_empty_tree_root() -> None:
    assert root_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert MerkleFrontier().root() == EMPTY_ROOT


def test_root_hash_refuses_a_malformed_leaf_hash() -> None:
    with pytest.raises(ValueError, match="leaf hash must be 32 bytes"):
        root_hash([LEAVES[0], b"short"])


def test_frontier_root_equals_root_hash_for_sizes_0_to_100() -> None:
    frontier = MerkleFrontier()
    for size in range(LEAF_COUNT + 1):
        assert frontier.size == size
        assert frontier.root() == root_hash(LEAVES[:size]) == ROOTS[size]
        # One hash per complete subtree, i.e. per set bit of the size: O(log n) memory.
        assert len(frontier._hashes) == size.bit_count()
        if size < LEAF_COUNT:
            frontier.append(LEAVES[size])


def test_frontier_refuses_a_malformed_leaf_hash() -> None:
    frontier = MerkleFrontier()
    with pytest.raises(ValueError, match="leaf hash must be 32 bytes"):
        frontier.append(b"")
    assert frontier.size == 0
