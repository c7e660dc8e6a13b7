"""Opaque keyset cursors: where the last page ended, for which listing and in which order."""

from __future__ import annotations

import base64
import binascii
import json

from vectadb.errors import BadRequest
from vectadb.stores.base import Order, Position

_VERSION = 1


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
            and isinstance(data.get("id"), str)
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
