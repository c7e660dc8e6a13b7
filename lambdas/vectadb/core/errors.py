"""Errors of the domain, each carrying the HTTP status and the stable code that clients see.

The wire shape is always ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorCode:
    """A code that clients see, the one status it is answered with, and what it means to them."""

    code: str
    status: int
    meaning: str
    where: str = ""  # who answers it when not the API's own function: "API Gateway", "local server"


# Every error code of the product, in one place: the classes below, the call sites, API Gateway's
# own responses (infra/api.py), the local server, the served OpenAPI document and the docs' error
# table all take their codes and statuses from here (tests/unit/test_error_catalogue.py checks it).
CATALOGUE: dict[str, ErrorCode] = {
    entry.code: entry
    for entry in (
        ErrorCode("bad_request", 400, "the request cannot be read (API Gateway's other 4xx answers too)"),
        ErrorCode(
            "invalid_json", 400, "the body is not JSON (syntax, or a number of more than 4,300 digits)"
        ),
        ErrorCode("invalid_utf8", 400, "the body is not UTF-8: refused, never repaired"),
        ErrorCode("invalid_base64", 400, "the body is marked base64 but is not valid base64"),
        ErrorCode("invalid_encoding", 400, "the body does not match its Content-Encoding, or is cut short"),
        ErrorCode("empty_body", 400, "the request body is empty"),
        ErrorCode(
            "too_deep",
            400,
            "the body nests deeper than the JSON parser allows (~900 levels): the whole request is refused",
        ),
        ErrorCode(
            "invalid_cursor",
            400,
            "the cursor is not one this listing issued, or was issued for another order",
        ),
        ErrorCode("invalid_range", 400, "start must be before end"),
        ErrorCode("invalid_request_body", 400, "the body does not match the route's schema", "API Gateway"),
        ErrorCode(
            "invalid_content_length",
            400,
            "Content-Length is missing, wrong or short, or sent with Transfer-Encoding",
            "local server",
        ),
        ErrorCode(
            "invalid_transfer_encoding",
            400,
            "Transfer-Encoding must end with chunked (else the length is unknown)",
            "local server",
        ),
        ErrorCode("invalid_chunked_body", 400, "a chunked body is malformed", "local server"),
        ErrorCode("unauthorized", 401, "no API key, or a malformed Authorization header"),
        ErrorCode("forbidden", 403, "the API key is unknown or revoked, or has no usage plan"),
        ErrorCode("not_found", 404, "no such route"),
        ErrorCode(
            "event_not_found",
            404,
            "no such event (also for an id outside the id alphabet, which cannot exist)",
        ),
        ErrorCode("trace_not_found", 404, "no such trace"),
        ErrorCode("method_not_allowed", 405, "the path exists; the Allow header lists its methods"),
        ErrorCode(
            "model_mismatch",
            409,
            "the vector index holds another model's vectors; the message says how to rebuild it",
        ),
        ErrorCode("event_not_indexed", 409, "the event has no vector yet; a reindex makes one"),
        ErrorCode("payload_too_large", 413, "the request is over API Gateway's 10 MB", "API Gateway"),
        ErrorCode(
            "body_too_large",
            413,
            "the body is over 6 MiB - 64 KiB (Lambda's synchronous payload limit less the proxy envelope),"
            " or decompresses to more",
        ),
        ErrorCode("batch_too_large", 413, "a batch of more than 1,000 events"),
        ErrorCode(
            "event_too_large", 413, "one event is too large to store (in a batch, for that event only)"
        ),
        ErrorCode(
            "unsupported_media_type",
            415,
            "send application/json or any application/*+json, with no charset or charset=utf-8",
        ),
        ErrorCode("unsupported_encoding", 415, "a Content-Encoding other than gzip, deflate or identity"),
        ErrorCode(
            "validation_error",
            422,
            "a field or query parameter is invalid; details name each one (in a batch, per event)",
        ),
        ErrorCode("expected_object", 422, "a JSON array was sent where one object is expected"),
        ErrorCode("future_timestamp", 422, "the event's timestamp is more than 5 minutes in the future"),
        ErrorCode("uri_too_long", 414, "the request line is too long", "local server"),
        ErrorCode("headers_too_large", 431, "the request headers are too large", "local server"),
        ErrorCode("throttled", 429, "too many requests: retry with backoff", "API Gateway"),
        ErrorCode("quota_exceeded", 429, "the key's usage-plan quota is spent", "API Gateway"),
        ErrorCode("internal_error", 500, "never carries internals, only the request id that the logs share"),
        ErrorCode(
            "store_error", 500, "the store refused the data (in a batch, per event); retrying will not help"
        ),
        ErrorCode("vector_index_error", 500, "the vector index refused a request; retrying will not help"),
        ErrorCode("authorizer_error", 500, "the authorizer failed", "local server"),
        ErrorCode(
            "configuration_error", 500, "a parser function's configuration is invalid", "parser function"
        ),
        ErrorCode("dead_letter_failed", 500, "the dead-letter queue refused a message", "parser function"),
        ErrorCode(
            "unsupported_transfer_encoding",
            501,
            "only the chunked transfer coding is understood",
            "local server",
        ),
        ErrorCode("http_version_not_supported", 505, "HTTP/1.0 and HTTP/1.1 only", "local server"),
        ErrorCode("store_unavailable", 503, "a store cannot be reached: retry after Retry-After"),
        ErrorCode(
            "semantic_unavailable", 503, "semantic search is not configured or its index cannot be reached"
        ),
        ErrorCode("model_unavailable", 503, "the embedding model cannot be loaded"),
        ErrorCode(
            "timeout", 504, "the function took longer than 29 s; a batch may be retried", "API Gateway"
        ),
    )
}


def status_of(code: str) -> int:
    return CATALOGUE[code].status


def meanings_by_status() -> dict[int, str]:
    """One line per status, its codes and their meanings: the served OpenAPI document's words."""
    lines: dict[int, list[str]] = {}
    for entry in CATALOGUE.values():
        where = f" ({entry.where})" if entry.where else ""
        lines.setdefault(entry.status, []).append(f"{entry.code}: {entry.meaning}{where}")
    return {status: "; ".join(parts) for status, parts in sorted(lines.items())}


def error_table_markdown() -> str:
    """The docs' error table, made from the catalogue."""
    rows = ["| status | code | meaning |", "|---|---|---|"]
    for entry in sorted(CATALOGUE.values(), key=lambda e: (e.status, e.code)):
        where = f" ({entry.where} only)" if entry.where else ""
        rows.append(f"| {entry.status} | `{entry.code}` | {entry.meaning}{where} |")
    return "\n".join(rows) + "\n"


class VectaError(Exception):
    """An error with its code; its status is the catalogue's for that code."""

    code: str = "internal_error"
    status: int = 500

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status_of(cls.code)  # an unknown code fails at import, in every test

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
            self.status = status_of(code)
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class BadRequest(VectaError):
    code = "bad_request"


class Unauthorized(VectaError):
    code = "unauthorized"


class NotFound(VectaError):
    code = "not_found"


class PayloadTooLarge(VectaError):
    code = "payload_too_large"


class UnsupportedMediaType(VectaError):
    code = "unsupported_media_type"


class StoreRejected(VectaError):
    """The store refused a write or a query for a reason that retrying the same data will not fix."""

    code = "store_error"


class StoreUnavailable(VectaError):
    """A store could not be reached or refused the write; the request may be retried."""

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
