"""Shared fixtures: the real embedded SurrealDB engine (mem://) behind the real handlers."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("VECTADB_MODEL_DIR") or ROOT / "build" / "model").resolve()

# Never let a test fall back to the local default stores under ./.vectadb/.
os.environ["VECTADB_SURREAL_URL"] = "mem://"
os.environ["VECTADB_QDRANT_URL"] = ":memory:"
os.environ["VECTADB_MODEL_DIR"] = str(MODEL_DIR)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "VectaDBTest")

from vectadb.core.config import Settings, get_settings  # noqa: E402 - after the environment above
from vectadb.local.server import LocalContext, LocalGateway, LocalServer, rest_proxy_event  # noqa: E402 - after the environment above
from vectadb.semantic.embedder import MANIFEST, Embedder  # noqa: E402 - after the environment above
from vectadb.semantic.index import SemanticIndex  # noqa: E402 - after the environment above
from vectadb.semantic.vector_index import QdrantIndex  # noqa: E402 - after the environment above
from vectadb.service.api_runtime import Runtime, set_runtime  # noqa: E402 - after the environment above
from vectadb.service.ingestion import IngestPolicy  # noqa: E402 - after the environment above
from vectadb.stores.surreal import SurrealStore  # noqa: E402 - after the environment above

TEST_KEY = "vdb_test-key-0123456789abcdefghijklmnopqrstuvw"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings() -> Settings:
    return Settings(surreal_url="mem://", api_keys=TEST_KEY, qdrant_url=":memory:", model_dir=MODEL_DIR)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real offline-built model, loaded once for the whole suite (`make test` builds it)."""
    if not (MODEL_DIR / MANIFEST).exists():
        pytest.fail(f"no embedding model in {MODEL_DIR}: run `make model` first")
    model = Embedder(MODEL_DIR)
    model.warm_up()
    return model


@pytest.fixture
def semantic(embedder: Embedder) -> Iterator[SemanticIndex]:
    index = SemanticIndex(embedder, QdrantIndex(":memory:"))
    assert index.check()
    yield index
    index.close()


@pytest.fixture
def store() -> Iterator[SurrealStore]:
    db = SurrealStore("mem://")
    db.ensure_schema()
    yield db
    db.close()


@pytest.fixture
def policy(settings: Settings) -> IngestPolicy:
    return IngestPolicy.from_settings(settings)


@pytest.fixture
def runtime(
    settings: Settings, store: SurrealStore, policy: IngestPolicy, semantic: SemanticIndex
) -> Iterator[Runtime]:
    rt = Runtime(settings=settings, store=store, policy=policy, semantic=semantic)
    previous = set_runtime(rt)
    yield rt
    set_runtime(previous)


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    raw: str

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    @property
    def error_code(self) -> str:
        return self.body["error"]["code"]


class Api:
    """Calls the ingestion Lambda handler with API Gateway REST proxy events, as API Gateway would."""

    def __init__(self, principal: str | None = "key_test") -> None:
        self.principal = principal

    def __call__(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: str | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        principal: str | None = "default",
    ) -> ApiResponse:
        from ingest.handler import handler

        if json_body is not None:
            body = json.dumps(json_body)
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        principal = self.principal if principal == "default" else principal
        authorizer = {"principalId": principal, "key_id": principal} if principal else None
        qs = {k: [str(v)] for k, v in (query or {}).items() if v is not None}
        event = rest_proxy_event(method, path, query=qs, headers=hdrs, body=body, authorizer=authorizer)
        result = LocalGateway.unwrap(handler(event, LocalContext(function_name="vectadb-ingest")))
        return ApiResponse(result.status, result.headers, result.body.decode())

    def get(self, path: str, **query: Any) -> ApiResponse:
        return self("GET", path, query=query)

    def post(self, path: str, payload: Any) -> ApiResponse:
        return self("POST", path, json_body=payload)

    def all_pages(self, path: str, key: str, **query: Any) -> list[dict[str, Any]]:
        """Follow next_cursor to the end; fail on a loop."""
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(10_000):
            response = self.get(path, **query, cursor=cursor)
            assert response.status == 200, response.raw
            items.extend(response.body[key])
            cursor = response.body["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError(f"pagination of {path}?{urlencode(query)} did not end")


@pytest.fixture
def api(runtime: Runtime) -> Api:
    return Api()


@pytest.fixture
def local_api(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """The local server over real HTTP: the real authorizer, then the real ingestion handler."""
    monkeypatch.setenv("VECTADB_API_KEYS", TEST_KEY)
    from authorizer import handler as authorizer_module
    from ingest.handler import handler as api_handler

    authorizer_module.verifier.cache_clear()
    gateway = LocalGateway(api_handler, authorizer_module.handler, runtime.settings.max_body_bytes)
    server = LocalServer(("127.0.0.1", 0), gateway, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    authorizer_module.verifier.cache_clear()
