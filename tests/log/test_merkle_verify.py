"""Tests for ledger.log.merkle: verification rejects malformed input without raising, and any
mutation of a valid proof fails.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rfc6962 import LEAF_COUNT, LEAVES, ROOTS

from ledger.log.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

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
