"""The fast canonical JSON writes exactly what RFC 8785's reference implementation writes."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.log.canonical import NotCanonicalJSON, NotJSON, dumps, dumps_plain, loads_canonical

texts = st.text(st.characters(codec="utf-8"), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400)
@given(values)
def test_dumps_writes_the_reference_bytes(value: object) -> None:
    assert dumps(value) == rfc8785.dumps(value)
    assert dumps_plain(value) == rfc8785.dumps(value)


@settings(max_examples=200)
@given(values)
def test_canonical_bytes_load_back_and_others_are_refused(value: object) -> None:
    data = rfc8785.dumps(value)
    assert loads_canonical(data) == value
    spaced = json.dumps(value, ensure_ascii=False).encode()
    if spaced != data:
        with pytest.raises(NotCanonicalJSON):
            loads_canonical(spaced)


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\ufb01": 2},  # astral key: UTF-16 order differs from code points
        {"a": 1.5},
        ["\u2028", "\x7f", "\x1f", "é", "\U0001f600"],
    ],
)
def test_values_off_the_fast_path_still_get_the_standards_bytes(value: object) -> None:
    assert dumps(value) == rfc8785.dumps(value)


def test_an_integer_beyond_2_53_is_refused_like_the_reference_refuses_it() -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        rfc8785.dumps({"big": 2**60})
    with pytest.raises(rfc8785.IntegerDomainError):
        dumps({"big": 2**60})


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b'{"a":1,"a":1}', NotCanonicalJSON),
        (b'{"b":1,"a":2}', NotCanonicalJSON),
        (b'{"a":1.0}', NotCanonicalJSON),
        (b'{"a":1e3}', NotCanonicalJSON),
        (b'{"a":9007199254740993}', NotCanonicalJSON),
        (b'{"a":NaN}', NotCanonicalJSON),
        (b'{"a":"\\u0041"}', NotCanonicalJSON),
        (b'{"a":"\\ud800"}', NotCanonicalJSON),
        (b'{"a":', NotJSON),
        (b"\xff", NotJSON),
    ],
)
def test_bytes_that_are_not_canonical_are_refused(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        loads_canonical(data)
