"""The local server's HTTP itself, over real sockets: methods, body framing, keep-alive, headers.

Malformed framing goes over a raw socket (no client library would send it); the rest over
http.client, which sends exactly what it is told.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import TEST_KEY
from vectadb.local.server import LocalServer

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def server(local_api: LocalServer) -> LocalServer:
    return local_api


@pytest.fixture
def conn(server: LocalServer) -> Iterator[http.client.HTTPConnection]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    yield connection
    connection.close()


def _call(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, body=body, headers={**AUTH, **(headers or {})}, **kwargs)
    response = conn.getresponse()
    return response, response.read()


def _raw(server: LocalServer, request: bytes, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; read to the server's close; the status, headers and body."""
    with socket.create_connection(server.server_address[:2], timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received, "the server closed the connection without an answer"
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def _error_code(body: bytes) -> str:
    return json.loads(body)["error"]["code"]


def _post_head(path: str, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", f"Authorization: Bearer {TEST_KEY}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


EVENT = b'{"timestamp": "2026-01-01T00:00:00Z", "event_type": "tool_call", "session_id": "http"}'


# -- 1. methods the server did not route -------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "OPTIONS", "FOO"])
def test_unrouted_methods_get_the_apis_json_405(conn: http.client.HTTPConnection, method: str) -> None:
    response, body = _call(conn, method, "/api/v1/events")
    assert response.status == 405
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("Allow") == "GET, POST"
    assert json.loads(body)["error"] == {
        "code": "method_not_allowed",
        "message": f"{method} is not allowed on /api/v1/events; use GET, POST",
        "details": None,
    }
    # Unknown paths are the API's 404, and the key is still checked first.
    response, body = _call(conn, method, "/nope")
    assert (response.status, _error_code(body)) == (404, "not_found")
    conn.request(method, "/api/v1/events")
    response = conn.getresponse()
    assert (response.status, _error_code(response.read())) == (401, "unauthorized")


def test_head_gets_the_405_without_a_body(conn: http.client.HTTPConnection) -> None:
    response, body = _call(conn, "HEAD", "/health")
    assert response.status == 405
    assert response.getheader("Allow") == "GET"
    assert response.getheader("Content-Type") == "application/json"
    assert body == b""
    # Nothing was left on the connection: the next request on it reads its own answer.
    response, body = _call(conn, "GET", "/health")
    assert response.status == 200
    assert json.loads(body)["status"] == "ok"


# -- 2./3. Content-Length that is not a length ---------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-1", "+2", "0x10", "2 2"])
def test_bad_content_length_is_a_json_400_then_a_clean_close(server: LocalServer, value: str) -> None:
    status, headers, body = _raw(
        server,
        _post_head("/api/v1/events", "Content-Type: application/json", f"Content-Length: {value}") + b"{}",
    )
    assert status == 400
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert _error_code(body) == "invalid_content_length"
    assert len(body) == int(headers["content-length"])


def test_conflicting_content_lengths_are_refused(server: LocalServer) -> None:
    status, _, body = _raw(
        server, _post_head("/api/v1/events", "Content-Length: 2", "Content-Length: 3") + b"{} "
    )
    assert (status, _error_code(body)) == (400, "invalid_content_length")


# -- 4. chunked bodies ---------------------------------------------------------------------------


def test_chunked_body_is_decoded(conn: http.client.HTTPConnection) -> None:
    pieces = [EVENT[:10], EVENT[10:40], EVENT[40:]]
    response, body = _call(conn, "POST", "/api/v1/events", iter(pieces), JSON, encode_chunked=True)
    assert response.status == 201, body
    event_id = json.loads(body)["event_id"]
    response, body = _call(conn, "GET", f"/api/v1/events/{event_id}")
    assert response.status == 200
    assert json.loads(body)["session_id"] == "http"


def test_chunked_body_over_the_limit_is_413(server: LocalServer, conn: http.client.HTTPConnection) -> None:
    limit = server.gateway.max_body_bytes
    chunk = b"x" * (1024 * 1024)
    chunks = [chunk] * (limit // len(chunk) + 1)
    response, body = _call(conn, "POST", "/api/v1/events/batch", iter(chunks), JSON, encode_chunked=True)
    assert (response.status, _error_code(body)) == (413, "body_too_large")


@pytest.mark.parametrize(
    "framing",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # not a hex size
        b"2\r\n{}XX0\r\n\r\n",  # chunk data not ended by CRLF
        b"-2\r\n{}\r\n0\r\n\r\n",  # a negative size
        b"2\n{}\r\n0\r\n\r\n",  # a bare LF
    ],
)
def test_malformed_chunk_framing_is_a_json_400(server: LocalServer, framing: bytes) -> None:
    status, headers, body = _raw(
        server,
        _post_head("/api/v1/events", "Content-Type: application/json", "Transfer-Encoding: chunked")
        + framing,
    )
    assert (status, _error_code(body)) == (400, "invalid_chunked_body")
    assert headers["connection"] == "close"


def test_transfer_encodings_other_than_chunked_are_refused(server: LocalServer) -> None:
    status, _, body = _raw(
        server, _post_head("/api/v1/events", "Transfer-Encoding: gzip, chunked") + b"0\r\n\r\n"
    )
    assert (status, _error_code(body)) == (501, "unsupported_transfer_encoding")
    status, _, body = _raw(
        server, _post_head("/api/v1/events", "Transfer-Encoding: chunked", "Content-Length: 2") + b"0\r\n\r\n"
    )
    assert status == 400


# -- 5. an over-limit body: the client that sends it all still reads the 413 ----------------------


def test_over_limit_body_sent_in_full_still_reads_the_413(
    server: LocalServer, conn: http.client.HTTPConnection
) -> None:
    body = b"x" * (server.gateway.max_body_bytes + 64 * 1024)
    response, answer = _call(conn, "POST", "/api/v1/events/batch", body, JSON)
    assert response.status == 413
    assert response.getheader("Connection") == "close"
    assert json.loads(answer)["error"]["code"] == "body_too_large"


def test_over_limit_body_with_expect_100_is_refused_before_it_is_sent(server: LocalServer) -> None:
    limit = server.gateway.max_body_bytes
    request = _post_head("/api/v1/events/batch", f"Content-Length: {limit + 1}", "Expect: 100-continue")
    status, _, body = _raw(server, request)  # no body sent: the answer comes without it
    assert (status, _error_code(body)) == (413, "body_too_large")


# -- 6. keep-alive: no Nagle / delayed-ACK stall ---------------------------------------------------


def test_keep_alive_requests_do_not_stall(conn: http.client.HTTPConnection) -> None:
    _call(conn, "GET", "/health")  # connect and warm up
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        response, _ = _call(conn, "GET", "/health")
        timings.append(time.perf_counter() - started)
        assert response.status == 200
    # The bug was a fixed ~40 ms (delayed ACK) on every request after the first.
    assert statistics.median(timings) < 0.020, timings


# -- 7. percent-encoded paths --------------------------------------------------------------------


# API Gateway REST APIs pass `path` percent-encoded; the handler decodes it before routing.
def test_percent_encoded_path_parameter(conn: http.client.HTTPConnection) -> None:
    event = json.loads(EVENT)
    response, body = _call(conn, "POST", "/api/v1/events", json.dumps({**event, "event_id": "f8:1"}), JSON)
    assert response.status == 201, body
    response, body = _call(conn, "GET", "/api/v1/events/f8:1")
    assert response.status == 200
    response, body = _call(conn, "GET", "/api/v1/events/f8%3A1")
    assert response.status == 200, body
    assert json.loads(body)["event_id"] == "f8:1"


# -- 8. header names are case-insensitive --------------------------------------------------------


def test_lower_case_authorization_header(server: LocalServer) -> None:
    request = (
        f"GET /api/v1/events HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {TEST_KEY}\r\n"
        "connection: close\r\n\r\n"
    ).encode()
    status, _, body = _raw(server, request)
    assert status == 200, body
    assert json.loads(body)["events"] == []


# -- 9. a body that is not UTF-8 -----------------------------------------------------------------


def test_invalid_utf8_body_is_refused_not_stored(conn: http.client.HTTPConnection) -> None:
    payload = b'{"timestamp":"2026-11-01T00:00:00Z","properties":{"m":"\xff"}}'
    response, body = _call(conn, "POST", "/api/v1/events", payload, JSON)
    assert response.status == 400
    error = json.loads(body)["error"]
    assert error["code"] == "invalid_utf8"
    assert "not valid UTF-8" in error["message"]
    offset = payload.index(b"\xff")
    assert f"byte 0xff at offset {offset}" in error["message"]
    response, body = _call(conn, "GET", "/api/v1/events")
    assert json.loads(body)["events"] == []
