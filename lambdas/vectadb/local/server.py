"""The local API: HTTP requests become API Gateway REST proxy events for the same Lambda handlers.

Nothing is routed twice: the TOKEN authorizer runs first, exactly as API Gateway would run it
(401 for a missing or malformed header, 403 for a Deny), and then the ingestion handler.

    python -m vectadb.local.server [--host 127.0.0.1] [--port 8080]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from vectadb.api.console import missing_vendor_files
from vectadb.api.httpbody import content_coding, decode_utf8, decompress, find_header
from vectadb.api.routes import is_public
from vectadb.core.auth import generate_api_key
from vectadb.core.config import LAMBDA_SYNC_PAYLOAD_BYTES
from vectadb.core.errors import VectaError, error_body
from vectadb.local.context import LOCAL_ACCOUNT, LOCAL_REGION, LocalContext

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

LOCAL_API_ID = "localapi"
LOCAL_STAGE = "local"
DATA_DIR = Path(".vectadb")
DEV_KEY_FILE = DATA_DIR / "dev-api-key"
DEMO_OFFSET_FILE = DATA_DIR / "demo-offset-seconds"
# A refused request's unread body is drained (up to these bounds) before the socket closes:
# closing on unread data sends a TCP reset, and the client loses the answer it was about to
# read. 16 MiB is over API Gateway's own 10 MB request limit, so any body the real API takes.
LINGER_MAX_BYTES = 16 * 1024 * 1024
LINGER_SECONDS = 10.0
LINGER_IDLE_SECONDS = 2.0
MAX_CHUNK_LINE = 4096
MAX_TRAILER_LINES = 100
_DIGITS = re.compile(r"[0-9]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


def rest_proxy_event(
    method: str,
    path: str,
    *,
    query: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    authorizer: Mapping[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway REST API (v1) Lambda proxy event, as API Gateway builds it.

    ``path`` is the request path as sent, percent-encoding and all: that is what API Gateway's
    REST APIs hand the function (only HTTP APIs decode it), so an encoded slash never makes a
    new segment for the handler's routing.
    """
    headers = dict(headers or {})
    query = dict(query or {})
    now_ms = int(time.time() * 1000)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": LOCAL_API_ID,
            "authorizer": dict(authorizer) if authorizer else None,
            "domainName": header(headers, "Host") or "localhost",
            "httpMethod": method,
            "identity": {"sourceIp": source_ip, "userAgent": header(headers, "User-Agent")},
            # The path as the client asked for it: served at the root, as API Gateway serves a
            # custom domain (its default endpoint would show /<stage> in front).
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
            "requestTimeEpoch": now_ms,
            "resourcePath": path,
            "stage": LOCAL_STAGE,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name, as HTTP (and API Gateway) reads names."""
    found = find_header(headers, name)
    return found[1] if found else None


def token_authorizer_event(method: str, path: str, authorization: str | None) -> dict[str, Any]:
    return {
        "type": "TOKEN",
        "authorizationToken": authorization or "",
        "methodArn": (
            f"arn:aws:execute-api:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{LOCAL_API_ID}/{LOCAL_STAGE}/{method}{path}"
        ),
    }


def _policy_allows(policy: Mapping[str, Any]) -> bool:
    statements = (policy.get("policyDocument") or {}).get("Statement") or []
    effects = {str(s.get("Effect", "")).lower() for s in statements}
    return "allow" in effects and "deny" not in effects


@dataclass
class GatewayResult:
    status: int
    headers: dict[str, str]
    body: bytes


class LocalGateway:
    """API Gateway's part: authorize, build the proxy event, invoke, unwrap the response."""

    def __init__(self, api: LambdaHandler, authorizer: LambdaHandler, max_body_bytes: int) -> None:
        self._api = api
        self._authorizer = authorizer
        self.max_body_bytes = max_body_bytes
        # A Lambda container serves one request at a time, and Powertools' resolver keeps
        # per-request state on a module-level object: invocations must not overlap.
        self._invoke_lock = threading.Lock()

    def handle(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        source_ip: str = "127.0.0.1",
    ) -> GatewayResult:
        url = urlsplit(raw_path)
        # Not unquoted: API Gateway's REST APIs pass the path on still percent-encoded (see
        # rest_proxy_event); the query string's values they do decode, as parse_qs does.
        path = url.path or "/"
        authorizer_context: dict[str, Any] | None = None
        with self._invoke_lock:
            if not is_public(path):
                denied = self._authorize(method, path, header(headers, "Authorization"))
                if isinstance(denied, GatewayResult):
                    return denied
                authorizer_context = denied
            try:
                if body is not None and (coding := content_coding(headers)) is not None:
                    # API Gateway decompresses a body sent with Content-Encoding before the function
                    # sees it (and refuses one that is not what the header says).
                    body = decompress(body, coding, self.max_body_bytes)
                text = decode_utf8(body) if body is not None else None
            except VectaError as exc:
                # Refused rather than stored with U+FFFD in place of what the sender meant.
                return _gateway_error(exc.status, exc.code, exc.message)
            event = rest_proxy_event(
                method,
                path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers=dict(headers),
                body=text,
                authorizer=authorizer_context,
                source_ip=source_ip,
            )
            response = self._api(event, LocalContext(function_name="vectadb-ingest"))
        return compressed(self.unwrap(response), header(headers, "Accept-Encoding"))

    def _authorize(self, method: str, path: str, authorization: str | None) -> dict[str, Any] | GatewayResult:
        if not authorization:
            # API Gateway does not call a TOKEN authorizer when the identity source is missing.
            return _gateway_error(
                401, "unauthorized", "missing Authorization header; send Authorization: Bearer <key>"
            )
        try:
            policy = self._authorizer(
                token_authorizer_event(method, path, authorization),
                LocalContext(function_name="vectadb-authorizer"),
            )
        except Exception as exc:  # noqa: BLE001 - mirrors API Gateway: any authorizer failure is a 500
            if str(exc) == "Unauthorized":
                return _gateway_error(401, "unauthorized", "malformed Authorization header; use Bearer <key>")
            return _gateway_error(500, "authorizer_error", "the authorizer failed")
        if not _policy_allows(policy):
            return _gateway_error(403, "forbidden", "the API key is not valid")
        context = dict(policy.get("context") or {})
        context["principalId"] = policy.get("principalId")
        return context

    @staticmethod
    def unwrap(response: Mapping[str, Any]) -> GatewayResult:
        """An HTTP response from a Lambda proxy response, merging multi-value headers."""
        headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(str(v) for v in values)
        body = response.get("body") or ""
        raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
        return GatewayResult(int(response.get("statusCode", 500)), headers, raw)


MIN_COMPRESSION_BYTES = 1024  # the stack's minimumCompressionSize (infra/api.py)


def compressed(result: GatewayResult, accept_encoding: str | None) -> GatewayResult:
    """The answer gzipped, as API Gateway's payload compression sends it to a client that accepts
    gzip, once it reaches the stack's minimum size."""
    accepted = {part.split(";")[0].strip().lower() for part in (accept_encoding or "").split(",")}
    if "gzip" not in accepted or len(result.body) < MIN_COMPRESSION_BYTES:
        return result
    if any(name.lower() == "content-encoding" for name in result.headers):
        return result
    headers = {**result.headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return GatewayResult(result.status, headers, gzip.compress(result.body, compresslevel=6))


def _gateway_error(status: int, code: str, message: str) -> GatewayResult:
    body = json.dumps(error_body(code, message), separators=(",", ":"))
    return GatewayResult(status, {"Content-Type": "application/json"}, body.encode())


class _Refused(Exception):
    """A request whose body cannot be read as sent: answered, then the connection is closed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.result = _gateway_error(status, code, message)


# BaseHTTPRequestHandler's own refusals (request line, headers), as JSON like every other error.
_PROTOCOL_ERRORS = {
    400: "bad_request",
    414: "uri_too_long",
    431: "headers_too_large",
    505: "http_version_not_supported",
}


class _RequestHandler(BaseHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one buffered write, with TCP_NODELAY: written apart, the body
    # waited on Nagle for the client's delayed ACK, ~40 ms on every keep-alive request.
    wbufsize = -1
    disable_nagle_algorithm = True
    # Set when a refused body may still be arriving: finish() drains it before closing.
    _linger = False

    def __getattr__(self, name: str) -> Callable[[], None]:
        """Every method goes to the API, whose router answers 405 (with Allow) or 404 for it.

        BaseHTTPRequestHandler looks up ``do_<METHOD>`` and answers 501 in HTML without one;
        API Gateway has no such answer, and the handler's is the API's documented one.
        """
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        gateway = self.server.gateway
        try:
            body = self._read_body(gateway.max_body_bytes)
        except _Refused as refused:
            # The framing is broken or the body unread: nothing after it can be trusted.
            self.close_connection = True
            self._linger = True
            self._respond(refused.result)
            return
        result = gateway.handle(
            self.command, self.path, dict(self.headers.items()), body, source_ip=self.client_address[0]
        )
        self._respond(result)

    def _framing(self, limit: int) -> int | None:
        """The body's Content-Length, or None for a chunked body; _Refused when neither holds."""
        encodings = self.headers.get_all("Transfer-Encoding")
        lengths = self.headers.get_all("Content-Length")
        if encodings:
            codings = [c.strip().lower() for c in ",".join(encodings).split(",") if c.strip()]
            if lengths:
                # Both: RFC 9112 lets a server refuse it, and a smuggled body is what it looks like.
                raise _Refused(
                    400, "invalid_content_length", "send Content-Length or Transfer-Encoding, not both"
                )
            if not codings or codings[-1] != "chunked":
                raise _Refused(
                    400, "invalid_transfer_encoding", "the body's length is unknown: chunked must come last"
                )
            if codings != ["chunked"]:
                raise _Refused(
                    501, "unsupported_transfer_encoding", "only the chunked transfer coding is supported"
                )
            return None
        if not lengths:
            return 0
        values = {value.strip() for value in lengths}
        value = values.pop()
        if values or not _DIGITS.fullmatch(value):
            raise _Refused(
                400,
                "invalid_content_length",
                f"Content-Length must be one number of bytes, not {', '.join(lengths)!r}",
            )
        length = int(value)
        if length > limit:
            raise _Refused(413, "body_too_large", f"request body is over {limit} bytes")
        return length

    def _read_body(self, limit: int) -> bytes | None:
        length = self._framing(limit)
        if length is None:
            return self._read_chunked(limit) or None
        if not length:
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            raise _Refused(
                400, "invalid_content_length", f"request body ended after {len(body)} of {length} bytes"
            )
        return body

    def _read_chunked(self, limit: int) -> bytes:
        """A chunked body (curl sends one for ``-T -`` or ``-H 'Transfer-Encoding: chunked'``).

        The size limit holds while reading: a chunk that would pass it is refused unread.
        """
        parts: list[bytes] = []
        total = 0
        while True:
            size_field = self._chunk_line().split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size_field):
                raise _Refused(400, "invalid_chunked_body", f"bad chunk size {size_field[:32]!r}")
            size = int(size_field, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                raise _Refused(413, "body_too_large", f"request body is over {limit} bytes")
            data = self.rfile.read(size)
            if len(data) < size or self.rfile.read(2) != b"\r\n":
                raise _Refused(
                    400, "invalid_chunked_body", "a chunk is shorter than its size or not ended by CRLF"
                )
            parts.append(data)
        for _ in range(MAX_TRAILER_LINES):  # trailer fields: read past, not used
            if self._chunk_line() == b"":
                return b"".join(parts)
        raise _Refused(400, "invalid_chunked_body", f"more than {MAX_TRAILER_LINES} trailer lines")

    def _chunk_line(self) -> bytes:
        line = self.rfile.readline(MAX_CHUNK_LINE + 1)
        if not line.endswith(b"\r\n"):
            raise _Refused(
                400, "invalid_chunked_body", "a chunk line is too long, cut short, or not ended by CRLF"
            )
        return line[:-2]

    def _respond(self, result: GatewayResult) -> None:
        """Send the answer; to HEAD its status and headers only.

        HEAD has no route in the API, so it gets the API's 405 (or 401/404), without a body
        and without Content-Length, which for HEAD would have to be a GET's length.
        """
        self.send_response(result.status)
        for name, value in result.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(result.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(result.body)

    def handle_expect_100(self) -> bool:
        """Invite a body with 100 Continue only when it will be read; else the refusal comes at once."""
        try:
            self._framing(self.server.gateway.max_body_bytes)
        except _Refused:
            return True  # _dispatch answers; a client that waits for 100 never sends the body
        self.send_response_only(100)
        self.end_headers()
        self.wfile.flush()  # the writer is buffered, and the client waits for this line
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (bad request line, headers too long) as the API's JSON."""
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        self._linger = True
        phrase = self.responses.get(code, ("error",))[0]
        self._respond(_gateway_error(code, _PROTOCOL_ERRORS.get(code, "bad_request"), message or phrase))

    def finish(self) -> None:
        super().finish()
        if self._linger:
            _drain(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def _drain(sock: socket.socket) -> None:
    """Close our side, then read and drop what the client still sends, within bounds.

    Closed on unread data, the socket resets, and the client, still writing its body, sees a
    broken pipe instead of the answer already sent; drained, it finishes and reads it.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(LINGER_IDLE_SECONDS)
        deadline = time.monotonic() + LINGER_SECONDS
        left = LINGER_MAX_BYTES
        while left > 0 and time.monotonic() < deadline:
            chunk = sock.recv(min(65536, left))
            if not chunk:
                return
            left -= len(chunk)
    except OSError:
        return


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], gateway: LocalGateway, quiet: bool = False) -> None:
        super().__init__(address, _RequestHandler)
        self.gateway = gateway
        self.quiet = quiet

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # once bound, the socket's own address (getsockname): text
        return f"http://{host}:{port}"


def _dev_api_key() -> str:
    """The key printed by ``make dev``: made once, kept (mode 0600) under ./.vectadb/."""
    if DEV_KEY_FILE.exists():
        return DEV_KEY_FILE.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = generate_api_key()
    fd = os.open(DEV_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _demo_offset(files: list[Path]) -> int:
    """How far the demo's times move so that its last run ended two minutes before the first start
    (the overview's default range shows it). Kept under ./.vectadb/: a later start feeds the same
    lines at the same times, so nothing is stored twice."""
    from vectadb.local.feed import latest_time

    if DEMO_OFFSET_FILE.exists():
        return int(DEMO_OFFSET_FILE.read_text().strip() or 0)
    latest = latest_time(files)
    offset = (int(time.time() * 1000) - 120_000 - latest) // 1000 if latest is not None else 0
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DEMO_OFFSET_FILE.write_text(f"{offset}\n")
    return offset


def _feed_demo(folder: Path, url: str, key: str) -> None:
    """The demo agents' logs, through the real parser handler, into this server (idempotent)."""
    from vectadb.local.feed import feed

    files = sorted(folder.glob("*.log"))
    try:
        totals = feed(
            files,
            url,
            key,
            log_group="/vectadb/demo",
            dlq_dir=DATA_DIR / "dlq",
            offset_seconds=_demo_offset(files),
        )
    except Exception as exc:  # noqa: BLE001 - the demo is a convenience; the server keeps running
        print(f"vectadb: the demo feed failed: {exc}", flush=True)
        return
    print(
        f"vectadb: fed {len(files)} demo log files through the parser: {totals['events']} events "
        f"({totals['duplicates']} already stored, {totals['parked']} parked). Try:\n"
        f"    curl -s '{url}/api/v1/traces' -H 'Authorization: Bearer {key}'",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the VectaDB API locally on embedded stores.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--demo", type=Path, default=None, help="log files to feed through the parser at start"
    )
    args = parser.parse_args(argv)

    # Configure the functions the way Lambda would: through their environment.
    shown_key = None
    if not os.environ.get("VECTADB_API_KEYS") and not os.environ.get("VECTADB_API_KEY_HASHES"):
        shown_key = _dev_api_key()
        os.environ["VECTADB_API_KEYS"] = shown_key
    feed_key = shown_key or os.environ.get("VECTADB_API_KEYS", "").split(",")[0].strip() or None
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

    from authorizer.handler import handler as authorizer_handler
    from ingest.handler import handler as api_handler
    from vectadb.core.config import get_settings
    from vectadb.service.api_runtime import Runtime, set_runtime
    from vectadb.stores.locking import StoreLockedError

    settings = get_settings()
    try:
        runtime = Runtime.from_settings(settings)
    except StoreLockedError as exc:
        print(f"vectadb: {exc}", file=sys.stderr)
        return 1
    set_runtime(runtime)
    gateway = LocalGateway(
        api_handler, authorizer_handler, min(settings.max_body_bytes, LAMBDA_SYNC_PAYLOAD_BYTES)
    )
    try:
        server = LocalServer((args.host, args.port), gateway)
    except OSError as exc:
        runtime.close()
        print(f"vectadb: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    key_hint = shown_key or "<one of VECTADB_API_KEYS>"
    model = runtime.semantic.describe()
    semantic = (
        f"{model['model']} ({model['quantization']}), vectors in {settings.qdrant_url}"
        if model["ok"]
        else f"unavailable: {model.get('error')}"
    )
    # The key rides in the fragment, which browsers never send: the page moves it into its session
    # storage and takes it off the address bar.
    console = f"{server.url}/ui/#key={quote(shown_key, safe='')}" if shown_key else f"{server.url}/ui/"
    missing = missing_vendor_files()
    if missing:
        console += f"  (its libraries are missing: run `make console`; {', '.join(missing)})"
    print(
        f"VectaDB API listening on {server.url}  (SurrealDB: {settings.surreal_url})\n"
        f"  API key: {key_hint}\n"
        f"  Console: {console}\n"
        f"  try:\n"
        f"    curl -s -X POST {server.url}/api/v1/events -H 'Authorization: Bearer {key_hint}' \\\n"
        f"      -H 'Content-Type: application/json' \\\n"
        f'      -d \'{{"timestamp": "{time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}", '
        f'"event_type": "tool_call", "session_id": "demo", '
        f'"properties": {{"tool_name": "web_search", "tool_input": {{"query": "weather SF"}}}}}}\'\n'
        f"    curl -s '{server.url}/api/v1/events?session_id=demo' -H 'Authorization: Bearer {key_hint}'\n"
        f"    curl -s -X POST {server.url}/api/v1/search -H 'Authorization: Bearer {key_hint}' \\\n"
        f"      -H 'Content-Type: application/json' -d '{{\"query\": \"look up the weather\"}}'\n"
        f"  Semantic search: {semantic}\n"
        f"  Ctrl-C stops the server.",
        flush=True,
    )
    if args.demo is not None and feed_key:
        threading.Thread(target=_feed_demo, args=(args.demo, server.url, feed_key), daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        set_runtime(None)
        runtime.close()
        print("vectadb: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
