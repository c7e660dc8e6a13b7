"""What the API accepts as a request body: its media type, its encoding and its JSON.

Each refusal is a documented 4xx that says what is wrong; nothing here ever alters the data
(a body that is not valid UTF-8 is refused, not repaired).
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import zlib
from collections.abc import Mapping
from typing import Any

from vectadb.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, VectaError

# RFC 8259 whitespace: what may come before the first value of a JSON text.
_JSON_WHITESPACE = " \t\n\r"


class UnprocessableBody(VectaError):
    code = "validation_error"


def find_header(headers: Mapping[str, str] | None, name: str) -> tuple[str, str] | None:
    """A header's name as sent and its value: HTTP (and API Gateway) read names in any case."""
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return key, value
    return None


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or ``application/<anything>+json`` (RFC 6839), any case, with parameters.

    A ``charset`` parameter, if present, must name UTF-8: JSON exchanged between systems is UTF-8
    (RFC 8259 §8.1), and a body declared in another charset would be read wrongly.
    """
    media_type, _, parameters = content_type.partition(";")
    kind, slash, subtype = media_type.strip().lower().partition("/")
    if kind != "application" or not slash:
        return False
    if subtype != "json" and not (subtype.endswith("+json") and len(subtype) > len("+json")):
        return False
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def check_media_type(content_type: str | None) -> None:
    if content_type is not None and not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            f"Content-Type {content_type[:100]} is not JSON in UTF-8; send application/json"
        )


# Content codings a client may compress a body with (RFC 9110 §8.4.1), as API Gateway supports them.
_CODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate", "identity": None}
_GZIP_MAGIC = b"\x1f\x8b"


def content_coding(headers: Mapping[str, str] | None) -> str | None:
    """``gzip``, ``deflate`` or None (no coding, or ``identity``) from Content-Encoding; 415 else."""
    found = find_header(headers, "content-encoding")
    if found is None or not found[1].strip():
        return None
    value = found[1].strip().lower()
    if value not in _CODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {value[:40]} is not supported; send gzip, deflate or no encoding",
            code="unsupported_encoding",
        )
    return _CODINGS[value]


def is_compressed(raw: bytes, coding: str) -> bool:
    """Whether the bytes are still coded: API Gateway may have decompressed them already (it does
    for a request with Content-Encoding, and then passes the header on)."""
    if coding == "gzip":
        return raw[:2] == _GZIP_MAGIC
    return len(raw) >= 2 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0  # a zlib header


def decompress(raw: bytes, coding: str, limit: int) -> bytes:
    """The decoded body, at most ``limit`` bytes: a larger one (a decompression bomb among them) is
    a 413 before it is ever whole in memory."""
    decoder = zlib.decompressobj(wbits=31 if coding == "gzip" else 15)
    try:
        out = decoder.decompress(raw, limit + 1)
        if len(out) > limit or decoder.unconsumed_tail:
            raise PayloadTooLarge(
                f"request body decompresses to more than {limit} bytes; split the batch",
                code="body_too_large",
            )
        out += decoder.flush()
    except zlib.error as exc:
        raise BadRequest(
            f"request body is not valid {coding} data ({exc}); send it as Content-Encoding says",
            code="invalid_encoding",
        ) from None
    if not decoder.eof:
        raise BadRequest(
            f"request body is cut short: the {coding} stream does not end", code="invalid_encoding"
        )
    if len(out) > limit:
        raise PayloadTooLarge(
            f"request body decompresses to more than {limit} bytes; split the batch", code="body_too_large"
        )
    return out


def decode_body(body: str, is_base64: bool, coding: str | None, limit: int) -> str:
    """The body as text: base64 undone (API Gateway's way with binary bodies), then a content
    coding that is still there, then UTF-8."""
    if not is_base64:
        return body  # text: never coded (API Gateway decompressed it, or nothing compressed it)
    raw = decode_base64(body)
    if coding is not None and is_compressed(raw, coding):
        raw = decompress(raw, coding, limit)
    return decode_utf8(raw)


def decode_base64(body: str) -> bytes:
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(
            "request body is marked base64 but is not valid base64", code="invalid_base64"
        ) from None


def decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"request body is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}; "
            "send JSON encoded as UTF-8",
            code="invalid_utf8",
        ) from None


def require_object(body: str, hint: str) -> None:
    """Refuse a JSON array where the route takes one object, before any parsing.

    The first non-blank character decides a JSON text's type; checked here because the request
    validation would otherwise quietly take the array's first element.
    """
    first = body.lstrip(_JSON_WHITESPACE)[:1]
    if first == "[":
        raise UnprocessableBody(f"request body is a JSON array; {hint}", code="expected_object")


def load_json(text: str) -> Any:
    """``json.loads`` with its failures as 400s rather than unhandled errors."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise  # the request validation reports where the syntax breaks
    except RecursionError:
        raise BadRequest(
            "request body nests deeper than the JSON parser allows (about 900 levels); "
            "an event's properties may nest at most 32 levels",
            code="too_deep",
        ) from None
    except ValueError as exc:
        # Python refuses integers longer than sys.get_int_max_str_digits() digits.
        raise BadRequest(
            f"request body is not valid JSON for this API: {exc}"
            if not str(exc).startswith("Exceeds the limit")
            else f"request body holds a number of more than {sys.get_int_max_str_digits()} digits",
            code="invalid_json",
        ) from None
