"""Tests for ledger.log.merkle: proofs generated for every size follow the RFC's recursive
definitions, proofs from a store of subtrees read little, and what cannot be proved is refused.
"""

from __future__ import annotations

import pytest
from rfc6962 import LEAVES, ROOTS, _rfc_mth, _rfc_path, _rfc_subproof

from ledger.log.merkle import (
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    root_hash,
    verify_consistency,
    verify_inclusion,
)


class SubtreeStore:
    """Stands in for a storage layer that holds only complete, aligned subtree hashes."""

    def __init__(self, leaves: tuple[bytes, ...]) -> None:
        self.hashes: dict[tuple[int, int], bytes] = {}
        width = 1
        while width <= len(leaves):
            for start in range(0, len(leaves) - width + 1, width):
                self.hashes[start, start + width] = _rfc_mth(start, start + width)
            width *= 2
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> bytes:
        self.calls.append((start, end))
        return self.hashes[start, end]  # a KeyError means an incomplete or unaligned request


# --- generated proofs, every size and index up to 64 -------------------------------------------


@pytest.mark.parametrize("tree_size", range(1, 65))
def test_every_inclusion_proof_follows_the_rfc_and_verifies(tree_size: int) -> None:
    root = root_hash(LEAVES[:tree_size])
    for index in range(tree_size):
        proof = inclusion_proof(LEAVES, index, tree_size)
        assert proof == _rfc_path(index, 0, tree_size)
        assert verify_inclusion(LEAVES[index], index, tree_size, proof, root) is True


@pytest.mark.parametrize("size2", range(1, 65))
def test_every_consistency_proof_follows_the_rfc_and_verifies(size2: int) -> None:
    root2 = root_hash(LEAVES[:size2])
    for size1 in range(1, size2 + 1):
        proof = consistency_proof(LEAVES, size1, size2)
        assert proof == _rfc_subproof(size1, 0, size2, True)
        assert verify_consistency(size1, size2, proof, ROOTS[size1], root2) is True


# --- proofs from a store of complete subtrees --------------------------------------------------


def _assert_few_complete_reads(store: SubtreeStore, tree_size: int) -> None:
    for start, end in store.calls:
        assert end <= tree_size, (start, end)
    assert len(store.calls) <= 2 * tree_size.bit_length() + 1, store.calls


@pytest.mark.parametrize("tree_size", [*range(1, 65), 99, 100])
def test_proofs_from_store_read_few_complete_subtrees(tree_size: int) -> None:
    store = SubtreeStore(LEAVES)
    for index in range(tree_size):
        store.calls.clear()
        proof = inclusion_proof_from(store, index, tree_size)
        assert proof == _rfc_path(index, 0, tree_size)
        _assert_few_complete_reads(store, tree_size)
    for size1 in range(1, tree_size + 1):
        store.calls.clear()
        proof = consistency_proof_from(store, size1, tree_size)
        assert proof == _rfc_subproof(size1, 0, tree_size, True)
        _assert_few_complete_reads(store, tree_size)


def test_proof_from_refuses_a_malformed_subtree_hash() -> None:
    with pytest.raises(ValueError, match=r"subtree_hash\(1, 2\) returned 3 bytes"):
        inclusion_proof_from(lambda start, end: b"bad", 0, 2)


# --- generation refuses what cannot be proved --------------------------------------------------


@pytest.mark.parametrize(
    ("index", "tree_size", "message"),
    [
        (5, 5, "index 5 is out of range for tree_size 5"),
        (0, 0, "index 0 is out of range for tree_size 0"),
        (-1, 5, "index must be an integer"),
        (0, -1, "tree_size must be an integer"),
        (0, 101, "tree_size 101 exceeds the 100 leaf hashes given"),
        (0, 2**64, "tree_size must be an integer"),
    ],
)
def test_inclusion_proof_refuses_out_of_range(index: int, tree_size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        inclusion_proof(LEAVES, index, tree_size)


@pytest.mark.parametrize(
    ("size1", "size2", "message"),
    [
        (0, 5, "size1 must be at least 1"),
        (0, 0, "size1 must be at least 1"),
        (3, 2, "size1 3 is greater than size2 2"),
        (-1, 5, "size1 must be an integer"),
        (1, 101, "size2 101 exceeds the 100 leaf hashes given"),
    ],
)
def test_consistency_proof_refuses_out_of_range(size1: int, size2: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        consistency_proof(LEAVES, size1, size2)
