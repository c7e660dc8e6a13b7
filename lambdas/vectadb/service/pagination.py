"""Opaque keyset cursors: where the last page ended, for which listing and in which order."""

from __future__ import annotations

import base64
import binascii
import json

from vectadb.core.errors import BadRequest
from vectadb.core.models import MAX_ID_LENGTH, is_valid_id
from vectadb.stores.base import Order, Position

_VERSION = 1
# A cursor is client input: its parts must be what a page can end on, or the range scan refuses them.
_MAX_MS = 10**13 - 1
# An id, or an event's place in its stream (64 digits and a colon) and its id.
MAX_TIE_LENGTH = MAX_ID_LENGTH + 65


def encode_cursor(listing: str, order: Order, position: Position) -> str:
    raw = json.dumps({"v": _VERSION, "l": listing, "o": order, "ms": position.ms, "id": position.id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, listing: str, order: Order) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        valid = (
            isinstance(data, dict)
            and data.get("v") == _VERSION
            and isinstance(data.get("ms"), int)
            and not isinstance(data.get("ms"), bool)
            and 0 <= data["ms"] <= _MAX_MS
            and isinstance(data.get("id"), str)
            and is_valid_id(data["id"], MAX_TIE_LENGTH)
        )
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise BadRequest(
            "cursor is not valid; pass the next_cursor of a previous page", code="invalid_cursor"
        )
    if data.get("l") != listing:
        raise BadRequest("cursor belongs to another listing", code="invalid_cursor")
    if data.get("o") != order:
        raise BadRequest(
            f"cursor was issued for order={data.get('o')}, not order={order}", code="invalid_cursor"
        )
    return Position(ms=data["ms"], id=data["id"])
