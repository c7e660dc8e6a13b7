"""The parser's JSON gives exactly what the standard library gives, faster where it can."""

from __future__ import annotations

import json

import pytest

from vectadb.core import jsoncodec

TEXTS = [
    '{"a": 1, "b": [1.5, "x", null, true], "c": {"d": "é ✓"}}',
    '{"big": 123456789012345678901234567890}',  # orjson would make it a float
    '{"edge": 9223372036854775807, "neg": -9223372036854775808}',
    '{"x": NaN, "y": Infinity}',  # orjson refuses these
    '{"s": "\\ud800"}',  # a lone surrogate: orjson refuses it
    '{"deep": 1e400}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_loads_is_the_standard_library_s(text: str) -> None:
    got, want = jsoncodec.loads(text), json.loads(text)
    assert json.dumps(got, allow_nan=True) == json.dumps(want, allow_nan=True)
    assert type(got.get("big", 0)) is type(want.get("big", 0))


@pytest.mark.parametrize("text", ["{", "not json", '{"a": 1} trailing', ""])
def test_loads_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        jsoncodec.loads(text)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": "é ✓", "c": [None, True, 1.25]},
        {"big": 2**70},
        {"s": "\ud800"},
    ],
)
def test_dumps_round_trips_through_the_standard_library(value: dict) -> None:
    encoded = jsoncodec.dumps(value)
    encoded.decode("utf-8")  # always valid UTF-8
    assert json.loads(encoded) == value


def test_dumps_is_compact_utf8() -> None:
    assert jsoncodec.dumps({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'.encode()
