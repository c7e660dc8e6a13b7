"""The local server over real HTTP: the authorizer runs first, then the same Lambda handler."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.conftest import MODEL_DIR, TEST_KEY
from vectadb.local.server import LocalServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(local_api: LocalServer) -> LocalServer:
    return local_api


AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


def _event(**extra: object) -> dict:
    return {"timestamp": datetime.now(UTC).isoformat(), "event_type": "tool_call", "session_id": "s", **extra}


def test_authorizer_runs_before_the_api(server: LocalServer) -> None:
    url = server.url + "/api/v1/events"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    malformed = requests.get(url, headers={"Authorization": TEST_KEY}, timeout=5)
    assert malformed.status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer vdb_not-a-key"}, timeout=5)
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "forbidden"
    # Even a route that does not exist is behind the key.
    assert requests.get(server.url + "/nope", timeout=5).status_code == 401
    assert requests.get(url, headers=AUTH, timeout=5).status_code == 200


def test_health_is_public(server: LocalServer) -> None:
    response = requests.get(server.url + "/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ingest_and_query_over_http(server: LocalServer) -> None:
    created = requests.post(server.url + "/api/v1/events", json=_event(), headers=AUTH, timeout=5)
    assert created.status_code == 201
    batch = requests.post(
        server.url + "/api/v1/events/batch",
        json={"events": [_event(event_type="llm_call"), {"timestamp": "soon"}]},
        headers=AUTH,
        timeout=5,
    )
    assert batch.status_code == 207
    assert [r.get("status") for r in batch.json()["results"]] == [None, 422]
    listed = requests.get(
        server.url + "/api/v1/events", params={"session_id": "s", "order": "asc"}, headers=AUTH, timeout=5
    )
    assert [e["event_type"] for e in listed.json()["events"]] == ["tool_call", "llm_call"]
    trace = requests.get(server.url + f"/api/v1/traces/{created.json()['trace_id']}", headers=AUTH, timeout=5)
    assert trace.json()["trace"]["total_events"] == 2


def test_oversized_body_is_refused_before_it_is_read(server: LocalServer) -> None:
    size = server.gateway.max_body_bytes + 1
    response = requests.post(
        server.url + "/api/v1/events/batch",
        data=b"x" * size,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_method_not_allowed_over_http(server: LocalServer) -> None:
    response = requests.delete(server.url + "/api/v1/events", headers=AUTH, timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_concurrent_clients(server: LocalServer) -> None:
    errors: list[str] = []

    def client(n: int) -> None:
        with requests.Session() as session:
            for i in range(10):
                r = session.post(
                    server.url + "/api/v1/events",
                    json=_event(session_id="shared", event_id=f"c{n}-{i}"),
                    headers=AUTH,
                    timeout=10,
                )
                if r.status_code != 201:
                    errors.append(r.text)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    traces = requests.get(
        server.url + "/api/v1/traces", params={"session_id": "shared"}, headers=AUTH, timeout=5
    )
    assert [t["total_events"] for t in traces.json()["traces"]] == [40]


# -- the `make dev` process --------------------------------------------------------------------


DEV_SERVER = [sys.executable, "-m", "vectadb.local.server", "--port", "0"]


def _dev_env() -> dict[str, str]:
    """What `make dev` runs with: the defaults, but for the model built in the repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTADB_")}
    env["PYTHONPATH"] = str(ROOT / "lambdas")
    env["VECTADB_MODEL_DIR"] = str(MODEL_DIR)
    return env


def _start(cwd: Path, *extra: str) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [*DEV_SERVER, *extra],
        cwd=cwd,
        env=_dev_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = ""
    for _ in range(20):  # structured log lines may come before the banner
        line = proc.stdout.readline()
        seen += line
        match = re.search(r"listening on (http://\S+)", line)
        if match or not line:
            break
    assert match, seen + (proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
    key_line = proc.stdout.readline()
    key = key_line.split("API key:")[1].strip()
    console_line = proc.stdout.readline()
    # The sign-in link carries the key in the fragment only, which a browser never sends.
    assert console_line.split("Console:")[1].strip().startswith(f"{match.group(1)}/ui/#key={key}")
    return proc, match.group(1), key


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    return out


def test_dev_server_persists_locks_and_stops_cleanly(tmp_path: Path) -> None:
    proc, url, key = _start(tmp_path)
    try:
        assert key.startswith("vdb_")
        assert (tmp_path / ".vectadb" / "dev-api-key").stat().st_mode & 0o777 == 0o600
        headers = {"Authorization": f"Bearer {key}"}
        created = requests.post(
            url + "/api/v1/events",
            json=_event(session_id="kept", properties={"error": "database connection timed out"}),
            headers=headers,
            timeout=30,
        )
        assert created.status_code == 201
        assert created.json()["indexed"] is True
        assert (tmp_path / ".vectadb" / "qdrant" / "shard").is_dir()  # the local vector engine, on disk

        # A second process on the same store is refused with a clear message.
        second = subprocess.run(
            DEV_SERVER,
            cwd=tmp_path,
            env=_dev_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert "already open in another process" in second.stderr
    finally:
        assert "stopped" in _stop(proc)

    # The data survived the restart, and the same key still works.
    proc, url, key_again = _start(tmp_path)
    try:
        assert key_again == key
        listed = requests.get(
            url + "/api/v1/events",
            params={"session_id": "kept"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert [e["event_id"] for e in listed.json()["events"]] == [created.json()["event_id"]]
        # So did its vector: semantic search finds it without a reindex.
        found = requests.post(
            url + "/api/v1/search",
            json={"query": "DB timeout", "limit": 1},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert [h["event"]["event_id"] for h in found.json()["hits"]] == [created.json()["event_id"]]
    finally:
        _stop(proc)


DEMO = ROOT / "lambdas" / "parser" / "demo"


def _demo_fed(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for _ in range(50):
        line = proc.stdout.readline()
        if "demo log files" in line or "demo feed" in line or not line:
            return line
    raise AssertionError("the demo feed said nothing")


def test_the_demo_looks_alive_and_a_restart_stores_it_once(tmp_path: Path) -> None:
    """`make dev`'s demo is moved in time so that its last run ended minutes before the first start
    (the console's default range shows it); a later start feeds the same lines at the same times."""
    proc, url, key = _start(tmp_path, "--demo", str(DEMO))
    try:
        fed = _demo_fed(proc)
        assert "fed 3 demo log files" in fed and "0 already stored" in fed, fed
        headers = {"Authorization": f"Bearer {key}"}
        newest = requests.get(url + "/api/v1/events", params={"limit": 1}, headers=headers, timeout=10)
        oldest = requests.get(
            url + "/api/v1/events", params={"limit": 1, "order": "asc"}, headers=headers, timeout=10
        )
        now = time.time()
        newest_at = datetime.fromisoformat(newest.json()["events"][0]["timestamp"]).timestamp()
        oldest_at = datetime.fromisoformat(oldest.json()["events"][0]["timestamp"]).timestamp()
        assert now - 15 * 60 < newest_at <= now  # the last demo run ended minutes ago
        assert now - 24 * 3600 < oldest_at  # and the whole demo is in the last 24 hours
    finally:
        _stop(proc)
    proc, url, _ = _start(tmp_path, "--demo", str(DEMO))
    try:
        fed_again = _demo_fed(proc)
        stored = int(fed.split("parser: ")[1].split(" events")[0])
        assert f"{stored} events ({stored} already stored" in fed_again, fed_again
    finally:
        _stop(proc)
