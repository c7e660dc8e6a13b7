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

_LONG_INTEGER = re.compile(r"\d{19}")  # 2**63 has 19 digits: shorter integers fit orjson exactly


def loads(text: str) -> Any:
    """``json.loads``, faster; raises ``ValueError`` on what is not JSON."""
    if _LONG_INTEGER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # NaN, a lone surrogate, ... or not JSON: the standard library decides
    return json.loads(text)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``
    encodes it; values orjson refuses (an integer of more than 64 bits, a lone surrogate) are
    written by ``json``, escaped to ASCII so that they stay valid UTF-8."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode()
