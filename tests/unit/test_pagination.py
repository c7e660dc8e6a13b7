from __future__ import annotations

import base64
import json

import pytest

from vectadb.core.errors import BadRequest
from vectadb.service.pagination import decode_cursor, encode_cursor
from vectadb.stores.base import Position


def test_round_trip() -> None:
    position = Position(ms=1767805200000, id="ev_abc")
    cursor = encode_cursor("events", "desc", position)
    assert "=" not in cursor
    assert decode_cursor(cursor, "events", "desc") == position


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(
            json.dumps({"v": 1, "l": "events", "o": "desc", "ms": "1"}).encode()
        ).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"v": 9, "l": "events", "o": "desc", "ms": 1, "id": "x"}).encode()
        ).decode(),
    ],
)
def test_tampered_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(BadRequest) as exc:
        decode_cursor(cursor, "events", "desc")
    assert exc.value.code == "invalid_cursor"


def test_a_cursor_only_continues_its_own_listing() -> None:
    cursor = encode_cursor("events", "desc", Position(ms=1, id="x"))
    with pytest.raises(BadRequest, match="order=desc"):
        decode_cursor(cursor, "events", "asc")
    with pytest.raises(BadRequest, match="another listing"):
        decode_cursor(cursor, "traces", "desc")
