"""RFC 8785 (JCS) canonical JSON, fast for the values a leaf holds.

``rfc8785.dumps`` is written in pure Python and was most of the time of hashing a leaf. For
the JSON a leaf holds (objects with keys inside the Basic Multilingual Plane, strings, safe
integers, booleans, null, arrays) the C encoder of the standard library writes the same bytes:
JCS sorts keys by UTF-16 code units, which for BMP keys is code point order, and escapes strings
exactly as ``json.dumps(ensure_ascii=False)`` does (``\\b \\t \\n \\f \\r``, other controls as
lowercase ``\\u00xx``, nothing else). Anything else (a float, an integer beyond 2**53, a key
outside the BMP) goes to ``rfc8785``, so the answer is always the standard's.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

_SAFE_INT_MAX = 2**53 - 1
# UTF-8 lead bytes of code points beyond the BMP: the only keys whose order could differ.
_ASTRAL = re.compile(rb"[\xf0-\xf4]")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


class NotCanonicalJSON(ValueError):
    """Bytes that are not the canonical form of any JSON value."""


class NotJSON(NotCanonicalJSON):
    """Bytes that are not JSON at all."""


def _plain_only(value: Any) -> bool:
    """True when the value holds only what the fast path writes exactly as JCS does."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INT_MAX <= value <= _SAFE_INT_MAX)
    if kind is dict:
        return all(type(k) is str and _plain_only(v) for k, v in value.items())
    if kind is list:
        return all(_plain_only(v) for v in value)
    return False


def _fast(value: Any) -> bytes | None:
    """The standard library's bytes, when they are JCS's: None when a key could sort otherwise."""
    data = _encode(value).encode("utf-8")  # raises on lone surrogates, as JCS does
    return None if _ASTRAL.search(data) else data


def dumps(value: Any) -> bytes:
    """The RFC 8785 canonical bytes of a JSON value."""
    if _plain_only(value):
        data = _fast(value)
        if data is not None:
            return data
    return rfc8785.dumps(value)


def dumps_plain(value: Any) -> bytes:
    """``dumps`` for a value known to hold no floats and no integers beyond 2**53."""
    return _fast(value) or rfc8785.dumps(value)


def _refuse_float(text: str) -> Any:
    raise NotCanonicalJSON(f"a number with a fraction or exponent: {text}")


def _safe_int(text: str) -> int:
    number = int(text)
    if not -_SAFE_INT_MAX <= number <= _SAFE_INT_MAX:
        raise NotCanonicalJSON(f"an integer beyond 2**53: {text}")
    return number


def loads_canonical(data: bytes) -> Any:
    """Parse bytes that must be canonical JSON, or raise ``NotCanonicalJSON``.

    The bytes are parsed and written again; they are canonical when nothing changed (a
    duplicate key, a space, an escape written otherwise, unsorted keys all change something).
    Numbers are held to integers, which is all a leaf has.
    """
    try:
        value = json.loads(
            data, parse_float=_refuse_float, parse_int=_safe_int, parse_constant=_refuse_float
        )
    except ValueError as error:
        if isinstance(error, NotCanonicalJSON):
            raise
        raise NotJSON(str(error)) from None
    try:
        # json.loads makes only what the fast path writes exactly (floats were refused above).
        again = _fast(value) or rfc8785.dumps(value)
    except (UnicodeEncodeError, rfc8785.CanonicalizationError) as error:
        raise NotCanonicalJSON(str(error)) from None
    if again != data:
        raise NotCanonicalJSON("the bytes differ from the canonical form of what they hold")
    return value
