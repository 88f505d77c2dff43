"""The cycle collector is off while a file is loaded, and on again afterwards, however the
load ended (``fund_ledger.data.collector_paused``)."""

from __future__ import annotations

import gc

import pytest

from fund_ledger.data import collector_paused


def _failing_load() -> None:
    with collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("the load failed")


def test_the_collector_is_off_during_a_load_and_on_after_a_failure() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="the load failed"):
        _failing_load()
    assert gc.isenabled()


def test_a_collector_already_off_is_left_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
