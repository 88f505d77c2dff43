"""The server's self-check names each tampering with the store, on the command line too.

The demo year is loaded once per store; a test that tampers with it puts every byte back and
checks that the self-check passes again, so the tests stay independent of their order.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from logstore import ORIGIN, Store, change_amount_digit, change_last_digit, record_gifts, verify

from fund_ledger import common
from ledger.log.merkle import leaf_hash, verify_inclusion
from ledger.log.notes import Signer
from ledger.log.verify import VerificationFailed

# -- 6. the server's self-check ------------------------------------------------------------------


def s_event_byte(store: Store) -> tuple[str, Callable[[], None]]:
    position = int(store.first_donation()["position"])
    state = store.event_row(position)["state"]
    store.set_event_state(position, change_last_digit(state))
    entry = store.first_donation()["leaf_index"]
    return (
        f"the event at position {position} does not match entry {entry}: "
        "the stored event or its entry was changed",
        lambda: store.set_event_state(position, state),
    )


def s_event_unreadable(store: Store) -> tuple[str, Callable[[], None]]:
    gift = store.first_donation()
    state = store.event_row(int(gift["position"]))["state"]
    store.set_event_state(int(gift["position"]), state[:-1])
    return (
        "cannot be read",  # which event is not said: a whole page of events fails to map
        lambda: store.set_event_state(int(gift["position"]), state),
    )


def s_leaf_data(store: Store) -> tuple[str, Callable[[], None]]:
    gift = store.first_donation()
    index = gift["leaf_index"]
    data = store.leaf(index)["data"]
    store.set_leaf_data(index, change_amount_digit(data))
    return (
        f"the event at position {gift['position']} does not match entry {index}",
        lambda: store.set_leaf_data(index, data),
    )


def s_leaf_deleted(store: Store) -> tuple[str, Callable[[], None]]:
    row = store.leaf(100)
    store.execute("DELETE FROM {t}fl_log_leaves WHERE leaf_index = %s", (100,))
    return ("entry 100 is missing: the next stored entry is 101", lambda: store.insert_leaf(row))


def s_leaves_swapped(store: Store) -> tuple[str, Callable[[], None]]:
    first, second = store.leaf(100), store.leaf(101)
    store.set_leaf_data(100, second["data"])
    store.set_leaf_data(101, first["data"])

    def restore() -> None:
        store.set_leaf_data(100, first["data"])
        store.set_leaf_data(101, second["data"])

    return f"the event at position {first['position']} does not match entry 100", restore


def s_event_deleted(store: Store) -> tuple[str, Callable[[], None]]:
    entry = store.leaf(200)
    row = store.delete_event(int(entry["position"]))
    return (
        f"entry 200 is for position {entry['position']} but the next event is at "
        f"{store.leaf(201)['position']}: events were deleted or reordered",
        lambda: store.insert_event(row),
    )


def s_log_truncated(store: Store) -> tuple[str, Callable[[], None]]:
    last = store.ledger.position()
    row = store.delete_event(last)
    return (
        f"entry {store.log.size() - 1} has no event: the event log was truncated",
        lambda: store.insert_event(row),
    )


def s_checkpoint_note(store: Store) -> tuple[str, Callable[[], None]]:
    stored = store.log.checkpoint()
    assert stored is not None
    origin, size, _root, rest = stored.note.split("\n", 3)
    other = base64.b64encode(bytes(32)).decode()
    store.execute(
        "UPDATE {t}fl_log_checkpoints SET note = %s WHERE tree_size = %s",
        ("\n".join([origin, size, other, rest]), stored.size),
    )
    return (
        f"the stored checkpoint of {stored.size}: the signature by {ORIGIN} does not verify",
        lambda: store.execute(
            "UPDATE {t}fl_log_checkpoints SET note = %s WHERE tree_size = %s",
            (stored.note, stored.size),
        ),
    )


STORE_TAMPERING: list[Callable[[Store], tuple[str, Callable[[], None]]]] = [
    s_event_byte,
    s_event_unreadable,
    s_leaf_data,
    s_leaf_deleted,
    s_leaves_swapped,
    s_event_deleted,
    s_log_truncated,
    s_checkpoint_note,
]


@contextmanager
def tampered(
    store: Store, tamper: Callable[[Store], tuple[str, Callable[[], None]]]
) -> Iterator[str]:
    """The store with one tampering applied, put back afterwards and checked to be whole again."""
    size = store.signed().size
    assert store.self_check() == size
    expected, restore = tamper(store)
    try:
        yield expected
    finally:
        restore()
    assert store.self_check() == size


@pytest.mark.parametrize(
    "tamper", STORE_TAMPERING, ids=[t.__name__.removeprefix("s_") for t in STORE_TAMPERING]
)
def test_the_self_check_names_each_tampering(
    store: Store, tamper: Callable[[Store], tuple[str, Callable[[], None]]]
) -> None:
    with tampered(store, tamper) as expected, pytest.raises(VerificationFailed) as failure:
        store.self_check()
    assert expected in str(failure.value)


def test_verify_store_on_the_command_line(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "signing.key"
    key_file.write_text(store.signer.encode())
    monkeypatch.setenv("FUND_LEDGER_DATABASE_URL", store.url)
    monkeypatch.setenv("FUND_LEDGER_SIGNING_KEY_FILE", str(key_file))
    monkeypatch.setattr(common, "open_ledger", lambda: store.ledger)
    size = store.signed().size
    assert verify("--store") == (
        0,
        f"ok: the store's {size} events match their log entries and checkpoints",
    )
    with tampered(store, s_event_byte) as expected:
        code, output = verify("--store", "--key", store.verifier.encode())
    assert code == 1
    assert output == f"FAILED: {expected}"
    other = Signer.generate(ORIGIN).verifier.encode()
    code, output = verify("--store", "--key", other)
    assert code == 1
    assert f"the stored checkpoint of {store.log.checkpoints()[0].size}: " in output
    assert f"no signature by {ORIGIN}" in output


def s_leaf_hash(store: Store) -> tuple[str, Callable[[], None]]:
    row = store.leaf(9)
    store.execute(
        "UPDATE {t}fl_log_leaves SET leaf_hash = %s WHERE leaf_index = 9", (bytes(32).hex(),)
    )
    return "entry 9", lambda: store.execute(
        "UPDATE {t}fl_log_leaves SET leaf_hash = %s WHERE leaf_index = 9", (row["leaf_hash"],)
    )


def s_subtree_hash(store: Store) -> tuple[str, Callable[[], None]]:
    [row] = store.query("SELECT hash FROM {t}fl_log_nodes WHERE level = 3 AND idx = 0")
    store.execute(
        "UPDATE {t}fl_log_nodes SET hash = %s WHERE level = 3 AND idx = 0", (bytes(32).hex(),)
    )
    return "subtree", lambda: store.execute(
        "UPDATE {t}fl_log_nodes SET hash = %s WHERE level = 3 AND idx = 0", (row["hash"],)
    )


@pytest.mark.parametrize("tamper", [s_leaf_hash, s_subtree_hash], ids=["leaf_hash", "subtree"])
def test_a_changed_stored_hash_breaks_the_proofs_served(
    store: Store, tamper: Callable[[Store], tuple[str, Callable[[], None]]]
) -> None:
    """Why the self-check must look at the stored hashes: every proof is served from them."""
    checkpoint = store.signed()
    data = store.leaf(8)["data"].encode()
    proof = store.log.inclusion_proof(8, checkpoint.size)
    assert verify_inclusion(leaf_hash(data), 8, checkpoint.size, proof, checkpoint.root)
    with tampered(store, tamper):
        proof = store.log.inclusion_proof(8, checkpoint.size)
        assert not verify_inclusion(leaf_hash(data), 8, checkpoint.size, proof, checkpoint.root)


@pytest.mark.parametrize("tamper", [s_leaf_hash, s_subtree_hash], ids=["leaf_hash", "subtree"])
def test_the_self_check_finds_a_changed_stored_hash(
    store: Store, tamper: Callable[[Store], tuple[str, Callable[[], None]]]
) -> None:
    with tampered(store, tamper) as expected, pytest.raises(VerificationFailed) as failure:
        store.self_check()
    assert expected in str(failure.value)


def test_the_self_check_finds_an_event_deleted_with_its_unsigned_leaf(store: Store) -> None:
    store.signed()
    record_gifts(store.ledger, store.views, 3)
    size = store.log.size()
    entry = store.leaf(size - 2)
    event = store.delete_event(int(entry["position"]))
    store.execute("DELETE FROM {t}fl_log_leaves WHERE leaf_index = %s", (size - 2,))
    try:
        assert store.log.size() == size  # the tree still counts the deleted leaf
        assert len(store.log.entries(size - 3, size)) == 2  # of the last three, one is gone
        with pytest.raises(VerificationFailed, match=f"entry {size - 2}"):
            store.self_check()
    finally:
        store.insert_event(event)
        store.insert_leaf(entry)
    assert store.self_check() == size
