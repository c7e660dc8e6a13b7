"""The served OpenAPI document is complete and true: Schemathesis generates requests from it (valid
ones and, in negative mode, ones that break it) and sends them over real HTTP to the local server,
which runs the real TOKEN authorizer and the real ingest handler on the embedded stores.

Every answer must be documented for its operation, match the documented schema and content type,
and never be a 5xx. The example count is bounded and generation is deterministic, so the run is
reproducible and fits in the suite's time budget.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.conftest import TEST_KEY
from vectadb.local.server import LocalServer

EXAMPLES_PER_OPERATION = 200
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    ignored_auth,
    unsupported_method,
]


def _served_document() -> dict:
    from ingest.handler import app

    return json.loads(app.get_openapi_json_schema())


schema = schemathesis.openapi.from_dict(
    _served_document(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
                # Header values cannot carry these over HTTP/1.1; everything else may be sent.
                "exclude-header-characters": "\r\n\x00",
            },
        }
    ),
)


@pytest.fixture
def base_url(local_api: LocalServer) -> str:
    host, port = local_api.server_address[:2]
    return f"http://{host}:{port}"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def test_the_served_document_is_the_one_tested(base_url: str) -> None:
    served = requests.get(
        f"{base_url}/api/v1/openapi.json", headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=10
    )
    assert served.status_code == 200
    assert served.json() == _served_document()


def test_every_operation_documents_a_success_and_the_shared_errors() -> None:
    document = _served_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert any(s.startswith("2") for s in statuses), (method, path)
            assert {"405", "500"} <= statuses, (method, path)
            if path != "/health":
                assert {"401", "403"} <= statuses, (method, path)
            if method == "post":
                assert {"400", "413", "415", "422"} <= statuses, (method, path)


@schema.parametrize()
# One server and one store per operation: examples share them, as requests to a real API would.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_api_keeps_its_documented_contract(case, base_url: str, session: requests.Session) -> None:
    case.call_and_validate(
        base_url=base_url,
        session=session,
        headers={"Authorization": f"Bearer {TEST_KEY}"},
        checks=CHECKS,
        timeout=30,
    )
