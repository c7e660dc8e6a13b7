"""A real HTTP proxy in front of the local API that misbehaves on request: 500, 429 with
Retry-After, a hang, a reset connection. Faults are taken from a queue, one per request; with the
queue empty the proxy forwards to the real server, unless ``always`` names a fault."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        fault = self.server.next_fault()
        self.server.requests += 1
        if fault == "reset":
            # SO_LINGER 0: close with a TCP RST, as a crashed peer or a load balancer would.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault == "hang":
            time.sleep(self.server.hang_seconds)
            self.close_connection = True
            return
        if fault in ("500", "503", "429"):
            payload = (
                b'{"error": {"code": "injected", "message": "fault injected by the test", "details": null}}'
            )
            self.send_response(int(fault))
            if fault == "429":
                self.send_header("Retry-After", str(self.server.retry_after))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        upstream = requests.post(
            self.server.upstream + self.path,
            data=body,
            headers={k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")},
            timeout=30,
        )
        self.server.forwarded += 1
        self.send_response(upstream.status_code)
        for name, value in upstream.headers.items():
            if name.lower() not in (
                "content-length",
                "content-encoding",
                "transfer-encoding",
                "connection",
                "server",
                "date",
            ):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.faults: deque[str] = deque()
        self.always: str | None = None
        self.retry_after = 0
        self.hang_seconds = 2.0
        self.requests = 0
        self.forwarded = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_fault(self) -> str | None:
        with self._lock:
            return self.faults.popleft() if self.faults else self.always

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
