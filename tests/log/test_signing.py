"""Signing refuses a log that no longer extends its checkpoint, and never covers a changed leaf."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from logstore import Store, change_amount_digit, change_last_digit, record_gifts

from ledger.log.merkle import MerkleFrontier, leaf_hash, root_hash
from ledger.log.verify import VerificationFailed, verify_log
from projections.log.queries import InconsistentLog

# -- 7. signing refuses an altered log -----------------------------------------------------------


def _rewrite_tree(store: Store) -> None:
    """Recompute every stored hash from the leaves' data, as a careful tamperer would."""
    frontier = MerkleFrontier()
    nodes: list[tuple[int, int, str]] = []
    with store.views.view("log").cursor(commit=True) as c:
        for row in store.leaves():
            hashed = leaf_hash(row["data"].encode())
            c.execute(
                "UPDATE {t}fl_log_leaves SET leaf_hash = %s WHERE leaf_index = %s",
                (hashed.hex(), row["leaf_index"]),
            )
            nodes.extend((level, index, h.hex()) for level, index, h in frontier.append(hashed))
        c.execute("DELETE FROM {t}fl_log_nodes")
        c.executemany("INSERT INTO {t}fl_log_nodes (level, idx, hash) VALUES (%s, %s, %s)", nodes)


def a_leaf_rewritten(store: Store) -> Callable[[], None]:
    index = store.first_donation()["leaf_index"]
    store.set_leaf_data(index, change_amount_digit(store.leaf(index)["data"]))
    _rewrite_tree(store)

    def restore() -> None:
        store.views.rebuild()  # the leaves and hashes again from the untouched events

    return restore


def a_event_changed_and_views_rebuilt(store: Store) -> Callable[[], None]:
    position = int(store.first_donation()["position"])
    state = store.event_row(position)["state"]
    store.set_event_state(position, change_last_digit(state))
    store.views.rebuild()

    def restore() -> None:
        store.set_event_state(position, state)
        store.views.rebuild()

    return restore


@pytest.mark.parametrize(
    "alter", [a_leaf_rewritten, a_event_changed_and_views_rebuilt], ids=["leaf", "event"]
)
def test_signing_refuses_a_log_that_no_longer_extends_its_checkpoint(
    store: Store, alter: Callable[[Store], Callable[[], None]]
) -> None:
    before = store.signed()
    checkpoints = store.log.checkpoints()
    restore = alter(store)
    try:
        record_gifts(store.ledger, store.views, 2)
        assert store.log.size() == before.size + 2
        with pytest.raises(
            InconsistentLog, match=f"does not extend the checkpoint of {before.size}"
        ):
            store.log.sign(store.signer)
        assert store.log.checkpoints() == checkpoints  # nothing was signed
        with pytest.raises(VerificationFailed):
            store.self_check()
    finally:
        restore()
    signed = store.log.sign(store.signer)
    assert signed is not None
    assert signed.size == before.size + 2
    assert store.self_check() == signed.size


def test_signing_never_covers_a_changed_leaf(store: Store) -> None:
    """Only a leaf's data changed (its stored hash kept): whatever sign does, it signs no root
    over the changed bytes, and the self-check names the entry."""
    before = store.signed()
    honest = [row["data"].encode() for row in store.leaves()]
    index = store.first_donation()["leaf_index"]
    store.set_leaf_data(index, change_amount_digit(honest[index].decode()))
    try:
        record_gifts(store.ledger, store.views, 1)
        honest.append(store.leaf(before.size)["data"].encode())
        try:
            signed = store.log.sign(store.signer)
        except InconsistentLog:
            signed = None
        if signed is not None:
            assert signed.root == root_hash([leaf_hash(d) for d in honest])
            served = [row["data"].encode() for row in store.leaves()]
            with pytest.raises(VerificationFailed, match="differs from the signed checkpoint"):
                verify_log(served, signed.note, store.verifier)
        with pytest.raises(VerificationFailed, match=f"does not match entry {index}"):
            store.self_check()
    finally:
        store.set_leaf_data(index, honest[index].decode())
    assert store.self_check() == store.signed().size
