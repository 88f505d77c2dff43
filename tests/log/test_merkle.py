"""Tests for ledger.log.merkle: RFC 6962 vectors, the recursive definitions, mutated proofs."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.log.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "rfc6962"
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

# Distinct leaves, so that no proof can pass for another index by accident.
LEAF_COUNT = 100
LEAVES = tuple(leaf_hash(i.to_bytes(2, "big")) for i in range(LEAF_COUNT))


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


# An independent transcription of RFC 9162 section 2.1 (MTH, PATH, SUBPROOF), recursive as
# written there, over ranges of LEAVES.


def _rfc_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def _rfc_mth(start: int, end: int) -> bytes:
    if end == start:
        return hashlib.sha256(b"").digest()
    if end - start == 1:
        return LEAVES[start]
    k = _rfc_split(end - start)
    return hashlib.sha256(b"\x01" + _rfc_mth(start, start + k) + _rfc_mth(start + k, end)).digest()


def _rfc_path(m: int, start: int, end: int) -> list[bytes]:
    if end - start == 1:
        return []
    k = _rfc_split(end - start)
    if m < k:
        return [*_rfc_path(m, start, start + k), _rfc_mth(start + k, end)]
    return [*_rfc_path(m - k, start + k, end), _rfc_mth(start, start + k)]


def _rfc_subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    if m == end - start:
        return [] if b else [_rfc_mth(start, end)]
    k = _rfc_split(end - start)
    if m <= k:
        return [*_rfc_subproof(m, start, start + k, b), _rfc_mth(start + k, end)]
    return [*_rfc_subproof(m - k, start + k, end, False), _rfc_mth(start, start + k)]


ROOTS = [_rfc_mth(0, n) for n in range(LEAF_COUNT + 1)]


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


# --- verification rejects malformed input without raising ------------------------------------

# A valid base case that each malformed case below changes in one argument.
INCLUSION_INDEX, INCLUSION_SIZE = 1, 5
INCLUSION_PROOF = inclusion_proof(LEAVES, INCLUSION_INDEX, INCLUSION_SIZE)
INCLUSION_ARGS = (
    LEAVES[INCLUSION_INDEX],
    INCLUSION_INDEX,
    INCLUSION_SIZE,
    INCLUSION_PROOF,
    ROOTS[INCLUSION_SIZE],
)


def test_inclusion_base_case_is_valid() -> None:
    assert verify_inclusion(*INCLUSION_ARGS) is True
    assert verify_inclusion(*INCLUSION_ARGS[:3], tuple(INCLUSION_PROOF), INCLUSION_ARGS[4]) is True


@pytest.mark.parametrize(
    ("position", "value"),
    [
        (0, LEAVES[INCLUSION_INDEX][:31]),
        (0, LEAVES[INCLUSION_INDEX] + b"\x00"),
        (0, bytearray(LEAVES[INCLUSION_INDEX])),
        (0, LEAVES[INCLUSION_INDEX].hex()),
        (0, None),
        (1, -1),
        (1, True),
        (1, 1.0),
        (1, "1"),
        (1, 2**64),
        (2, -5),
        (2, 0),
        (2, 2**64 + 5),
        (2, 5.0),
        (2, None),
        (3, None),
        (3, "proof"),
        (3, b""),
        (3, iter(INCLUSION_PROOF)),
        (3, [*INCLUSION_PROOF[:2], INCLUSION_PROOF[2][:31]]),
        (3, [*INCLUSION_PROOF[:2], INCLUSION_PROOF[2].hex()]),
        (3, [*INCLUSION_PROOF[:2], None]),
        (3, [*INCLUSION_PROOF[:2], 7]),
        (3, [*INCLUSION_PROOF[:2], bytearray(INCLUSION_PROOF[2])]),
        (3, INCLUSION_PROOF + [LEAVES[0]] * 1000),
        (4, ROOTS[INCLUSION_SIZE][:31]),
        (4, ROOTS[INCLUSION_SIZE].hex()),
        (4, None),
    ],
)
def test_verify_inclusion_rejects_malformed(position: int, value: Any) -> None:
    args: list[Any] = list(INCLUSION_ARGS)
    args[position] = value
    assert verify_inclusion(*args) is False


CONSISTENCY_SIZE1, CONSISTENCY_SIZE2 = 3, 7
CONSISTENCY_PROOF = consistency_proof(LEAVES, CONSISTENCY_SIZE1, CONSISTENCY_SIZE2)
CONSISTENCY_ARGS = (
    CONSISTENCY_SIZE1,
    CONSISTENCY_SIZE2,
    CONSISTENCY_PROOF,
    ROOTS[CONSISTENCY_SIZE1],
    ROOTS[CONSISTENCY_SIZE2],
)


def test_consistency_base_case_is_valid() -> None:
    assert verify_consistency(*CONSISTENCY_ARGS) is True


@pytest.mark.parametrize(
    ("position", "value"),
    [
        (0, -3),
        (0, 0),
        (0, True),
        (0, 3.0),
        (0, "3"),
        (0, None),
        (1, 2),
        (1, 2**64),
        (1, -7),
        (1, 7.0),
        (2, None),
        (2, []),
        (2, "proof"),
        (2, b""),
        (2, iter(CONSISTENCY_PROOF)),
        (2, [CONSISTENCY_PROOF[0][:31], *CONSISTENCY_PROOF[1:]]),
        (2, [*CONSISTENCY_PROOF[:-1], CONSISTENCY_PROOF[-1] + b"\x00"]),
        (2, [*CONSISTENCY_PROOF[:-1], None]),
        (2, [*CONSISTENCY_PROOF[:-1], bytearray(CONSISTENCY_PROOF[-1])]),
        (2, CONSISTENCY_PROOF + [LEAVES[0]] * 1000),
        (3, ROOTS[CONSISTENCY_SIZE1][:31]),
        (3, None),
        (4, ROOTS[CONSISTENCY_SIZE2] + b"\x00"),
        (4, ROOTS[CONSISTENCY_SIZE2].hex()),
    ],
)
def test_verify_consistency_rejects_malformed(position: int, value: Any) -> None:
    args: list[Any] = list(CONSISTENCY_ARGS)
    args[position] = value
    assert verify_consistency(*args) is False


@pytest.mark.parametrize("root1", [ROOTS[4][:31], ROOTS[4] + b"\x00", ROOTS[4].hex()])
def test_a_malformed_power_of_two_old_root_is_rejected(root1: Any) -> None:
    # With size1 a power of two, root1 is hashed with the proof rather than only compared.
    proof = consistency_proof(LEAVES, 4, 6)
    assert verify_consistency(4, 6, proof, ROOTS[4], ROOTS[6]) is True
    assert verify_consistency(4, 6, proof, root1, ROOTS[6]) is False


def test_equal_sizes_need_equal_roots_and_no_proof() -> None:
    assert verify_consistency(5, 5, [], ROOTS[5], ROOTS[5]) is True
    assert verify_consistency(5, 5, [], ROOTS[5], ROOTS[4]) is False
    assert verify_consistency(5, 5, [ROOTS[5]], ROOTS[5], ROOTS[5]) is False
    assert verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT) is False


def test_a_proof_does_not_tie_the_tree_size_to_the_root() -> None:
    # Documents why callers must take (tree size, root) from one signed checkpoint: the proof
    # for leaf 0 of the 3-leaf tree also passes against that root with a claimed size of 4.
    proof = inclusion_proof(LEAVES, 0, 3)
    assert verify_inclusion(LEAVES[0], 0, 4, proof, ROOTS[3]) is True
    assert verify_inclusion(LEAVES[0], 0, 4, proof, ROOTS[4]) is False


# --- property tests: any mutation of a valid proof fails -------------------------------------

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def inclusion_cases(draw: st.DrawFn, size_min: int = 1) -> tuple[int, int, list[bytes]]:
    tree_size = draw(st.integers(size_min, LEAF_COUNT))
    index = draw(st.integers(0, tree_size - 1))
    return index, tree_size, inclusion_proof(LEAVES, index, tree_size)


@st.composite
def consistency_cases(draw: st.DrawFn, strict: bool = False) -> tuple[int, int, list[bytes]]:
    size2 = draw(st.integers(2 if strict else 1, LEAF_COUNT))
    size1 = draw(st.integers(1, size2 - 1 if strict else size2))
    return size1, size2, consistency_proof(LEAVES, size1, size2)


@st.composite
def flipped(draw: st.DrawFn, proof: list[bytes]) -> list[bytes]:
    position = draw(st.integers(0, len(proof) - 1))
    offset = draw(st.integers(0, 31))
    mask = draw(st.integers(1, 255))
    item = bytearray(proof[position])
    item[offset] ^= mask
    return [*proof[:position], bytes(item), *proof[position + 1 :]]


def _extra_hash(proof: list[bytes]) -> st.SearchStrategy[bytes]:
    # Real hashes from the same tree are the dangerous extras, beside random ones.
    return st.one_of(st.binary(min_size=32, max_size=32), st.sampled_from([*proof, *ROOTS]))


@PROPERTY_SETTINGS
@given(case=inclusion_cases(size_min=2), data=st.data())
def test_inclusion_with_a_flipped_byte_fails(case: tuple[int, int, list[bytes]], data: Any) -> None:
    index, tree_size, proof = case
    mutated = data.draw(flipped(proof))
    assert verify_inclusion(LEAVES[index], index, tree_size, mutated, ROOTS[tree_size]) is False


@PROPERTY_SETTINGS
@given(case=inclusion_cases(size_min=2), data=st.data())
def test_inclusion_with_a_dropped_hash_fails(case: tuple[int, int, list[bytes]], data: Any) -> None:
    index, tree_size, proof = case
    position = data.draw(st.integers(0, len(proof) - 1))
    mutated = proof[:position] + proof[position + 1 :]
    assert verify_inclusion(LEAVES[index], index, tree_size, mutated, ROOTS[tree_size]) is False


@PROPERTY_SETTINGS
@given(case=inclusion_cases(), data=st.data())
def test_inclusion_with_an_added_hash_fails(case: tuple[int, int, list[bytes]], data: Any) -> None:
    index, tree_size, proof = case
    position = data.draw(st.integers(0, len(proof)))
    mutated = [*proof[:position], data.draw(_extra_hash(proof)), *proof[position:]]
    assert verify_inclusion(LEAVES[index], index, tree_size, mutated, ROOTS[tree_size]) is False


@PROPERTY_SETTINGS
@given(case=inclusion_cases(), data=st.data())
def test_inclusion_at_a_wrong_index_fails(case: tuple[int, int, list[bytes]], data: Any) -> None:
    index, tree_size, proof = case
    wrong = data.draw(st.integers(-2, tree_size + 2).filter(lambda i: i != index))
    assert verify_inclusion(LEAVES[index], wrong, tree_size, proof, ROOTS[tree_size]) is False


@PROPERTY_SETTINGS
@given(case=consistency_cases(strict=True), data=st.data())
def test_consistency_with_a_flipped_byte_fails(
    case: tuple[int, int, list[bytes]], data: Any
) -> None:
    size1, size2, proof = case
    mutated = data.draw(flipped(proof))
    assert verify_consistency(size1, size2, mutated, ROOTS[size1], ROOTS[size2]) is False


@PROPERTY_SETTINGS
@given(case=consistency_cases(strict=True), data=st.data())
def test_consistency_with_a_dropped_hash_fails(
    case: tuple[int, int, list[bytes]], data: Any
) -> None:
    size1, size2, proof = case
    position = data.draw(st.integers(0, len(proof) - 1))
    mutated = proof[:position] + proof[position + 1 :]
    assert verify_consistency(size1, size2, mutated, ROOTS[size1], ROOTS[size2]) is False


@PROPERTY_SETTINGS
@given(case=consistency_cases(), data=st.data())
def test_consistency_with_an_added_hash_fails(
    case: tuple[int, int, list[bytes]], data: Any
) -> None:
    size1, size2, proof = case
    position = data.draw(st.integers(0, len(proof)))
    mutated = [*proof[:position], data.draw(_extra_hash(proof)), *proof[position:]]
    assert verify_consistency(size1, size2, mutated, ROOTS[size1], ROOTS[size2]) is False


@PROPERTY_SETTINGS
@given(case=consistency_cases(), data=st.data())
def test_consistency_from_a_wrong_size1_fails(
    case: tuple[int, int, list[bytes]], data: Any
) -> None:
    size1, size2, proof = case
    wrong = data.draw(st.integers(-2, size2 + 2).filter(lambda size: size != size1))
    assert verify_consistency(wrong, size2, proof, ROOTS[size1], ROOTS[size2]) is False
