"""The console's files as the ingest function serves them (through API Gateway REST proxy events):
what a browser needs to load the page from the function alone, and nothing it must not get."""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from pathlib import Path

import pytest

from tests.conftest import Api
from vectadb.api.console import CONSOLE_DIR, VENDOR_FILES, missing_vendor_files
from vectadb.local.context import LocalContext
from vectadb.local.server import LocalGateway, rest_proxy_event

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024  # a synchronous Lambda's response, and API Gateway's is 10 MB
IMPORT = re.compile(r"""(?:import|from)\s*["'](\.{1,2}/[^"']+)["']""")


def test_the_vendored_libraries_are_there() -> None:
    assert missing_vendor_files() == [], "run make console"


def test_the_page_and_every_file_it_imports_are_served_with_their_content_type(api: Api) -> None:
    page = api("GET", "/ui/", principal=None)
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-cache"
    # Walk the page's module graph as the browser does, from the import map and relative imports.
    pending = ["app.js", *re.findall(r'"(\./vendor/[^"]+)"', page.raw)]
    pending += re.findall(r'href="\./([^"]+\.css)"', page.raw)
    seen: set[str] = set()
    while pending:
        name = posixpath.normpath(pending.pop()).removeprefix("./")  # as the browser resolves it
        if name in seen:
            continue
        seen.add(name)
        served = api("GET", f"/ui/{name}", principal=None)
        assert served.status == 200, name
        kind = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[Path(name).suffix]
        assert served.headers["Content-Type"] == kind, name
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert len(served.raw.encode()) < LAMBDA_RESPONSE_LIMIT
        if name.endswith(".js"):
            folder = Path(name).parent
            pending += [posixpath.join(folder.as_posix(), target) for target in IMPORT.findall(served.raw)]
    assert {f"vendor/{n}" for n in VENDOR_FILES} <= seen
    assert {"app.js", "api.js", "pages/overview.js", "pages/trace.js"} <= seen


def test_a_file_is_revalidated_by_its_etag(api: Api) -> None:
    first = api("GET", "/ui/app.js", principal=None)
    again = api("GET", "/ui/app.js", principal=None, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    assert again.raw == ""
    changed = api("GET", "/ui/app.js", principal=None, headers={"If-None-Match": '"other"'})
    assert changed.status == 200


def test_the_page_allows_only_its_own_scripts(api: Api) -> None:
    page = api("GET", "/ui/", principal=None)
    policy = page.headers["Content-Security-Policy"]
    (import_map,) = re.findall(r'<script type="importmap">(.*?)</script>', page.raw, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert re.findall(r"<script(?! type=\"(?:importmap|module)\")", page.raw) == []  # no other inline script


@pytest.mark.parametrize(
    "path",
    ["/ui/../ui/app.js", "/ui/.hidden.js", "/ui/vendor/../../core/errors.py", "/ui/app.py", "/ui/missing.js"],
)
def test_nothing_but_the_console_files_is_served(api: Api, path: str) -> None:
    served = api("GET", path, principal=None)
    assert served.status == 404
    assert served.error_code == "not_found"


def test_the_root_and_ui_redirect_to_the_page_under_the_stage(api: Api) -> None:
    from ingest.handler import handler

    for path in ("/", "/ui"):
        local = api("GET", path, principal=None)
        assert (local.status, local.headers["Location"]) == (302, "/ui/")
        # Behind API Gateway's default endpoint the request context shows the stage in front.
        event = rest_proxy_event("GET", path)
        event["requestContext"]["path"] = f"/prod{path}"
        result = LocalGateway.unwrap(handler(event, LocalContext(function_name="vectadb-ingest")))
        assert (result.status, result.headers["Location"]) == (302, "/prod/ui/")


def test_the_console_needs_no_key_but_the_api_does(api: Api) -> None:
    assert api("GET", "/ui/", principal=None).status == 200
    assert api("GET", "/api/v1/traces", principal=None).status == 401


def test_the_files_are_in_the_code_asset_directory() -> None:
    assert (CONSOLE_DIR / "index.html").is_file()
    assert not any(CONSOLE_DIR.rglob("*.py"))
