"""RFC 9162 Merkle tree hashes, inclusion and consistency proofs, for tamper-evident books."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeAlias

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE_BYTES",
    "TREE_SIZE_MAX",
    "MerkleFrontier",
    "SubtreeHash",
    "consistency_proof",
    "consistency_proof_from",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE_BYTES = 32
# RFC 9162 carries tree sizes and leaf indices as uint64.
TREE_SIZE_MAX = 2**64 - 1
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

SubtreeHash: TypeAlias = Callable[[int, int], bytes]
"""``subtree_hash(start, end)``: the hash of leaves ``[start, end)``.

The ``*_from`` functions only ever ask for a complete, aligned subtree: ``end - start`` is a power
of two, ``start`` is a multiple of it, and ``end`` is at most the tree size the proof is for. So a
store that keeps the hash of every complete subtree can answer each call with one read.
"""


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    # Without fixed lengths, (left, right) could be re-split into another pair with the same hash.
    if not (_is_hash(left) and _is_hash(right)):
        raise ValueError(
            f"node_hash needs two {HASH_SIZE_BYTES}-byte hashes, "
            f"got {_describe(left)} and {_describe(right)}"
        )
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the whole sequence of leaf hashes; the empty tree's root is SHA-256 of nothing."""
    frontier = MerkleFrontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


class MerkleFrontier:
    """Running root of an append-only tree, holding one hash per set bit of its size.

    Enough for a verifier that replays a long log and compares its root with a checkpoint while
    keeping O(log n) memory.
    """

    def __init__(self) -> None:
        self._size = 0
        # Roots of the complete subtrees that make up the tree, largest (leftmost) first.
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @classmethod
    def resume(cls, size: int, hashes: Sequence[bytes]) -> MerkleFrontier:
        """A frontier for a tree of ``size`` leaves from its complete subtrees' roots.

        ``hashes`` are the roots of the subtrees that the set bits of ``size`` describe, largest
        (leftmost) first, as a store of complete subtrees holds them.
        """
        _check_size("size", size)
        if len(hashes) != size.bit_count() or not all(_is_hash(h) for h in hashes):
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} subtree roots")
        frontier = cls()
        frontier._size = size
        frontier._hashes = list(hashes)
        return frontier

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add the next leaf, given by its leaf hash (see ``leaf_hash``).

        Returns the complete subtrees the leaf finished, as (level, index, hash) with level 1 or
        more: subtree (level, index) covers leaves [index * 2**level, (index + 1) * 2**level).
        """
        if not _is_hash(leaf_hash):
            raise ValueError(
                f"leaf hash must be {HASH_SIZE_BYTES} bytes, got {_describe(leaf_hash)}"
            )
        if self._size == TREE_SIZE_MAX:
            raise ValueError(f"tree is full at {TREE_SIZE_MAX} leaves")
        node = leaf_hash
        finished: list[tuple[int, int, bytes]] = []
        # Each trailing one bit of the old size is a complete subtree of the new leaf's size.
        size = self._size
        level = 0
        while size & 1:
            node = node_hash(self._hashes.pop(), node)
            size >>= 1
            level += 1
            finished.append((level, (self._size + 1 >> level) - 1, node))
        self._hashes.append(node)
        self._size += 1
        return finished

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        return _fold_right(self._hashes) if self._hashes else EMPTY_ROOT


def inclusion_proof_from(subtree_hash: SubtreeHash, index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[0:tree_size]) of RFC 9162 section 2.1.3.1, ordered from the leaf upward.

    Calls ``subtree_hash`` O(log tree_size) times, each for a complete subtree (see SubtreeHash).
    """
    _check_size("tree_size", tree_size)
    _check_size("index", index)
    if index >= tree_size:
        raise ValueError(f"index {index} is out of range for tree_size {tree_size}")
    proof: list[bytes] = []
    start, end = 0, tree_size
    while end - start > 1:
        middle = start + _split_point(end - start)
        if index < middle:
            proof.append(_range_hash(subtree_hash, middle, end))
            end = middle
        else:
            proof.append(_range_hash(subtree_hash, start, middle))
            start = middle
    proof.reverse()
    return proof


def consistency_proof_from(subtree_hash: SubtreeHash, size1: int, size2: int) -> list[bytes]:
    """PROOF(size1, D[0:size2]) of RFC 9162 section 2.1.4.1; empty when the sizes are equal.

    Calls ``subtree_hash`` O(log size2) times, each for a complete subtree (see SubtreeHash).
    A proof from size 0 is refused, because ``verify_consistency`` rejects it: it proves nothing.
    """
    _check_size("size1", size1)
    _check_size("size2", size2)
    if size1 == 0:
        raise ValueError(
            "size1 must be at least 1: a consistency proof from the empty tree is refused"
        )
    if size1 > size2:
        raise ValueError(f"size1 {size1} is greater than size2 {size2}")
    proof: list[bytes] = []
    start, end = 0, size2
    # RFC 9162's SUBPROOF flag b: while the walk has only gone left, the subtree it stops at is
    # the whole old tree, whose root the verifier already holds.
    old_root_known = True
    while end != size1:
        middle = start + _split_point(end - start)
        if size1 <= middle:
            proof.append(_range_hash(subtree_hash, middle, end))
            end = middle
        else:
            proof.append(_range_hash(subtree_hash, start, middle))
            start = middle
            old_root_known = False
    if not old_root_known:
        proof.append(_range_hash(subtree_hash, start, end))
    proof.reverse()
    return proof


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the tree of the first ``tree_size`` leaf hashes."""
    _check_size("tree_size", tree_size)
    if tree_size > len(leaf_hashes):
        raise ValueError(f"tree_size {tree_size} exceeds the {len(leaf_hashes)} leaf hashes given")
    return inclusion_proof_from(_list_subtree_hash(leaf_hashes), index, tree_size)


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """Consistency proof between the trees of the first ``size1`` and ``size2`` leaf hashes."""
    _check_size("size2", size2)
    if size2 > len(leaf_hashes):
        raise ValueError(f"size2 {size2} exceeds the {len(leaf_hashes)} leaf hashes given")
    return consistency_proof_from(_list_subtree_hash(leaf_hashes), size1, size2)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf ``index`` of the tree of ``tree_size`` leaves has ``leaf_hash``.

    RFC 9162 section 2.1.3.2. Anything malformed (a hash that is not 32 bytes, an item that is not
    bytes, an index or size out of range, a proof too short or too long) yields False, never an
    exception, because proofs arrive from outside.

    The proof ties the leaf to ``root`` but not ``root`` to ``tree_size``: a proof for a smaller
    tree can pass with that smaller tree's root and a larger ``tree_size``. Take ``tree_size`` and
    ``root`` together from one signed checkpoint.
    """
    if not (
        _is_hash(leaf_hash)
        and _is_size(index)
        and _is_size(tree_size)
        and _is_proof(proof)
        and isinstance(root, bytes)
    ):
        return False
    if index >= tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        # sn reaches 0 within 64 steps, so an overlong proof is cut short here.
        if sn == 0 or not _is_hash(p):
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """Whether ``proof`` shows the tree of ``size2`` leaves extends the tree of ``size1`` leaves.

    RFC 9162 section 2.1.4.2, plus the cases the RFC leaves out: equal sizes need an empty proof
    and equal roots (compared as given, whatever their length), and a proof from size 0 is
    rejected, as the reference vectors require. Anything malformed yields False, never an
    exception. As with ``verify_inclusion``, ``size2`` and ``root2`` must come from one signed
    checkpoint: the proof does not tie them to each other.
    """
    if not (
        _is_size(size1)
        and _is_size(size2)
        and _is_proof(proof)
        and isinstance(root1, bytes)
        and isinstance(root2, bytes)
    ):
        return False
    if size1 == 0 or size1 > size2:
        return False
    if size1 == size2:
        return len(proof) == 0 and root1 == root2
    if len(proof) == 0:
        return False
    items = iter(proof)
    # A power-of-two old tree is a complete subtree of the new one, so root1 is the first step;
    # then it is hashed, not just compared, and must be as well-formed as any proof item.
    seed = root1 if size1 & (size1 - 1) == 0 else next(items)
    if not _is_hash(seed):
        return False
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = seed
    for c in items:
        if sn == 0 or not _is_hash(c):
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


def _split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(subtree_hash: SubtreeHash, start: int, end: int) -> bytes:
    """MTH of leaves [start, end), with ``start`` aligned, built from complete subtrees only."""
    pieces: list[bytes] = []
    while start < end:
        # The RFC splits off the largest power of two first, so the complete pieces come out
        # largest first and their right fold is the MTH of the range.
        width = 1 << ((end - start).bit_length() - 1)
        piece = subtree_hash(start, start + width)
        if not _is_hash(piece):
            raise ValueError(
                f"subtree_hash({start}, {start + width}) returned {_describe(piece)}, "
                f"not a {HASH_SIZE_BYTES}-byte hash"
            )
        pieces.append(piece)
        start += width
    return _fold_right(pieces)


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _list_subtree_hash(leaf_hashes: Sequence[bytes]) -> SubtreeHash:
    def subtree_hash(start: int, end: int) -> bytes:
        return root_hash(leaf_hashes[start:end])

    return subtree_hash


def _check_size(name: str, value: int) -> None:
    if not _is_size(value):
        raise ValueError(f"{name} must be an integer from 0 to {TREE_SIZE_MAX}, got {value!r}")


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= TREE_SIZE_MAX


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE_BYTES


def _is_proof(value: object) -> bool:
    # str and bytes are sequences too, of characters and integers, never of hashes.
    return isinstance(value, Sequence) and not isinstance(
        value, str | bytes | bytearray | memoryview
    )


def _describe(value: object) -> str:
    if isinstance(value, bytes):
        return f"{len(value)} bytes"
    return f"a {type(value).__name__}"
