"""RFC 6962 for the Merkle tests: the reference vectors of the fixtures, and the RFC's recursive
definitions of the tree hash and of the proofs, transcribed on their own.
"""

from __future__ import annotations

import hashlib
from functools import cache

from ledger.log.merkle import leaf_hash

# Distinct leaves, so that no proof can pass for another index by accident.
LEAF_COUNT = 100
LEAVES = tuple(leaf_hash(i.to_bytes(2, "big")) for i in range(LEAF_COUNT))


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
