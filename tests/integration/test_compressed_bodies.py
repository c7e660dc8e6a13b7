"""Compressed request bodies: the handler takes them as API Gateway may hand them over (already
decompressed, with the Content-Encoding header still on; or still compressed, in base64), the local
server decompresses them as API Gateway does, and a decompression bomb is a 413 before it is whole."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.handler import handler
from tests.conftest import TEST_KEY, Api
from vectadb.local.server import LocalContext, LocalGateway, LocalServer, rest_proxy_event

AUTHORIZER = {"principalId": "key_test", "key_id": "key_test"}


def _batch(n: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "events": [
            {"timestamp": now, "event_type": "log", "session_id": "gz", "properties": {"i": i}}
            for i in range(n)
        ]
    }


def _invoke(body: str, is_base64: bool, headers: dict[str, str]) -> tuple[int, Any]:
    event = rest_proxy_event(
        "POST",
        "/api/v1/events/batch",
        headers={"Content-Type": "application/json", **headers},
        body=body,
        authorizer=AUTHORIZER,
    )
    event["isBase64Encoded"] = is_base64
    result = LocalGateway.unwrap(handler(event, LocalContext(function_name="vectadb-ingest")))
    return result.status, json.loads(result.body)


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate", "GZIP"])
def test_a_body_still_compressed_in_base64_is_decompressed(runtime: object, coding: str) -> None:
    raw = json.dumps(_batch(5)).encode()
    packed = gzip.compress(raw) if "gzip" in coding.lower() else zlib.compress(raw)
    status, body = _invoke(base64.b64encode(packed).decode(), True, {"Content-Encoding": coding})
    assert status == 200, body
    assert body["accepted"] == 5


def test_a_body_api_gateway_already_decompressed_is_read_as_it_is(runtime: object) -> None:
    # API Gateway decompresses the payload before the integration and passes the header on.
    status, body = _invoke(json.dumps(_batch(3)), False, {"Content-Encoding": "gzip"})
    assert (status, body["accepted"]) == (200, 3)
    status, body = _invoke(
        base64.b64encode(json.dumps(_batch(2)).encode()).decode(), True, {"Content-Encoding": "gzip"}
    )
    assert (status, body["accepted"]) == (200, 2)


def test_a_decompression_bomb_is_a_413(runtime: object) -> None:
    bomb = gzip.compress(b'{"events": [' + b" " * (64 * 1024 * 1024) + b"]}")  # 64 MiB of blanks, ~64 KiB
    assert len(bomb) < 200_000
    status, body = _invoke(base64.b64encode(bomb).decode(), True, {"Content-Encoding": "gzip"})
    assert status == 413
    assert body["error"]["code"] == "body_too_large"
    assert "decompresses to more than" in body["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "headers", "status", "code"),
    [
        (gzip.compress(b'{"events": []}')[:-6], {"Content-Encoding": "gzip"}, 400, "invalid_encoding"),
        (b"\x1f\x8b" + b"not gzip at all", {"Content-Encoding": "gzip"}, 400, "invalid_encoding"),
        (b'{"events": []}', {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
        (
            gzip.compress("\udcff".encode("utf-8", "surrogatepass")),
            {"Content-Encoding": "gzip"},
            400,
            "invalid_utf8",
        ),
    ],
    ids=["cut short", "corrupt", "brotli", "not utf-8 inside"],
)
def test_a_body_that_is_not_what_its_encoding_says_is_refused(
    runtime: object, payload: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    got, body = _invoke(base64.b64encode(payload).decode(), True, headers)
    assert (got, body["error"]["code"]) == (status, code), body


def test_the_local_server_takes_gzip_over_http(local_api: LocalServer, api: Api) -> None:
    host, port = local_api.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    headers = {
        "Authorization": f"Bearer {TEST_KEY}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    conn.request(
        "POST", "/api/v1/events/batch", body=gzip.compress(json.dumps(_batch(4)).encode()), headers=headers
    )
    response = conn.getresponse()
    assert response.status == 200, response.read()
    assert json.loads(response.read())["accepted"] == 4
    conn.request(
        "POST", "/api/v1/events/batch", body=gzip.compress(b" " * (8 * 1024 * 1024)), headers=headers
    )
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"]["code"] == "body_too_large"
    conn.close()


def test_the_parser_sends_gzip(runtime: object) -> None:
    """What the forwarder's client puts on the wire: a gzip body that says so."""
    import requests

    from vectadb.forwarder.client import ApiClient

    sent: list[requests.PreparedRequest] = []

    class Capture(requests.Session):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            sent.append(request)
            response = requests.Response()
            response.status_code = 200
            count = len(json.loads(gzip.decompress(request.body))["events"])  # type: ignore[arg-type]
            response._content = json.dumps(
                {"results": [{"index": i, "status": 201} for i in range(count)]}
            ).encode()
            return response

    client = ApiClient("http://api.invalid", lambda _: "k", session=Capture())
    events = _batch(50)["events"]
    client.send(events, deadline=time.monotonic() + 10)
    (request,) = sent
    assert request.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(request.body))["events"] == events  # type: ignore[arg-type]
    assert len(request.body) < len(json.dumps({"events": events})) / 3  # type: ignore[arg-type]
