"""A fund on the memory store for each test of the fund's rules."""

from __future__ import annotations

import pytest
from helpers import World, build_world

from ledger.app import FundLedger


@pytest.fixture
def w() -> World:
    return build_world(FundLedger("memory://"))
