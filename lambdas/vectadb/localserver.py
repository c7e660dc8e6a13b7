"""The local API: HTTP requests become API Gateway REST proxy events for the same Lambda handlers.

Nothing is routed twice: the TOKEN authorizer runs first, exactly as API Gateway would run it
(401 for a missing or malformed header, 403 for a Deny), and then the ingestion handler.

    python -m vectadb.localserver [--host 127.0.0.1] [--port 8080]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vectadb.auth import generate_api_key
from vectadb.config import LAMBDA_SYNC_PAYLOAD_BYTES
from vectadb.errors import error_body

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

LOCAL_REGION = "local"
LOCAL_ACCOUNT = "000000000000"
LOCAL_API_ID = "localapi"
LOCAL_STAGE = "local"
PUBLIC_PATHS = frozenset({"/health"})
DATA_DIR = Path(".vectadb")
DEV_KEY_FILE = DATA_DIR / "dev-api-key"


@dataclass
class LocalContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_ms: int = 30_000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self._started) * 1000))


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
    """An API Gateway REST API (v1) Lambda proxy event, as API Gateway builds it."""
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
            "domainName": headers.get("Host", "localhost"),
            "httpMethod": method,
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
            "path": f"/{LOCAL_STAGE}{path}",
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
        path = url.path or "/"
        authorizer_context: dict[str, Any] | None = None
        with self._invoke_lock:
            if path not in PUBLIC_PATHS:
                denied = self._authorize(method, path, headers.get("Authorization"))
                if isinstance(denied, GatewayResult):
                    return denied
                authorizer_context = denied
            event = rest_proxy_event(
                method,
                path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers=dict(headers),
                body=body.decode("utf-8", errors="replace") if body is not None else None,
                authorizer=authorizer_context,
                source_ip=source_ip,
            )
            response = self._api(event, LocalContext(function_name="vectadb-ingest"))
        return self.unwrap(response)

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


def _gateway_error(status: int, code: str, message: str) -> GatewayResult:
    return GatewayResult(
        status, {"Content-Type": "application/json"}, json.dumps(error_body(code, message)).encode()
    )


class _RequestHandler(BaseHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        gateway = self.server.gateway
        length = int(self.headers.get("Content-Length") or 0)
        if length > gateway.max_body_bytes:
            # Do not read it: refuse and close, as API Gateway refuses a payload Lambda cannot take.
            self.close_connection = True
            result = _gateway_error(
                413, "body_too_large", f"request body is over {gateway.max_body_bytes} bytes"
            )
        else:
            body = self.rfile.read(length) if length else None
            result = gateway.handle(
                self.command, self.path, dict(self.headers.items()), body, source_ip=self.client_address[0]
            )
        self.send_response(result.status)
        for name, value in result.headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(result.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(result.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


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


def _feed_demo(folder: Path, url: str, key: str) -> None:
    """The demo agents' logs, through the real parser handler, into this server (idempotent)."""
    from vectadb.feed import feed

    files = sorted(folder.glob("*.log"))
    try:
        totals = feed(files, url, key, log_group="/vectadb/demo", dlq_dir=DATA_DIR / "dlq")
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
    from vectadb.config import get_settings
    from vectadb.runtime import Runtime, set_runtime
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
    print(
        f"VectaDB API listening on {server.url}  (SurrealDB: {settings.surreal_url})\n"
        f"  API key: {key_hint}\n"
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
