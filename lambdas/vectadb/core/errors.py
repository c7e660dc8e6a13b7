"""Errors of the domain, each carrying the HTTP status and the stable code that clients see.

The wire shape is always ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class VectaError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class BadRequest(VectaError):
    status = 400
    code = "bad_request"


class Unauthorized(VectaError):
    status = 401
    code = "unauthorized"


class NotFound(VectaError):
    status = 404
    code = "not_found"


class PayloadTooLarge(VectaError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(VectaError):
    status = 415
    code = "unsupported_media_type"


class StoreRejected(VectaError):
    """The store refused a write or a query for a reason that retrying the same data will not fix."""

    status = 500
    code = "store_error"


class StoreUnavailable(VectaError):
    """A store could not be reached or refused the write; the request may be retried."""

    status = 503
    code = "store_unavailable"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _format_loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "event"


def describe_validation_errors(
    errors: Sequence[Mapping[str, Any]], prefix: Sequence[Any] = ()
) -> tuple[str, list[dict[str, Any]]]:
    """Turn pydantic error dicts into a one-line message that names the field, plus details.

    Inputs are never echoed back: they may be large and may hold secrets.
    """
    details = []
    for err in errors:
        field = _format_loc([*prefix, *err.get("loc", ())])
        details.append(
            {"field": field, "message": str(err.get("msg", "invalid value")), "type": err.get("type")}
        )
    if not details:
        return "request is invalid", details
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{first['field']}: {first['message']}{more}", details
