"""JSON in the parser's hot path: orjson where it gives exactly what the standard library gives,
the standard library where it would not.

orjson decodes and encodes several times faster, but it reads an integer of more than 64 bits as a
float (a changed value), refuses NaN and Infinity, and refuses lone surrogates, all of which
``json`` keeps: such texts and values go through ``json`` unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# orjson reads an integer beyond 64 bits as a float; such an integer has at least 19 digits.
_LONG_INTEGER = re.compile(r"[1-9][0-9]{18}")


def loads(text: str) -> Any:
    """``json.loads``, faster; raises ``ValueError`` on what is not JSON."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # NaN, a lone surrogate, ... or not JSON: the standard library decides
    # Looking for a float in the value is several times cheaper than scanning every text for a
    # long integer; only a text that gave a float can hold one.
    if _holds_float(value) and _LONG_INTEGER.search(text) is not None:
        return json.loads(text)
    return value


def _holds_float(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is float:
            return True
        if kind is dict:
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
    return False


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``
    encodes it; values orjson refuses (an integer of more than 64 bits, a lone surrogate) are
    written by ``json``, escaped to ASCII so that they stay valid UTF-8."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode()
