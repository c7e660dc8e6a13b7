"""The web console's files, as the API serves them under ``/ui/``: content types, validators, caching.

The console is a handful of static files (``console/``: the page, its modules and stylesheet, and
the pinned front-end libraries that ``make console`` copies from npm into ``console/vendor/``). They
ship in the function's code asset and are read once per container. Responses are plain text: API
Gateway compresses them (the stack's ``minimumCompressionSize``), and the local server does the same.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
VENDOR_FILES = (
    "preact.module.js",
    "hooks.module.js",
    "htm.module.js",
    "uPlot.esm.js",
    "uPlot.min.css",
)
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
# A file name of the console: no "..", no hidden files, nothing but these characters.
_SAFE_PATH = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class ConsoleFile:
    body: str
    content_type: str
    etag: str
    cache_control: str


def console_file(path: str) -> ConsoleFile | None:
    """The file at ``path`` under /ui/ ("" is the page), or None when there is no such file."""
    name = path.strip("/") or "index.html"
    if not _SAFE_PATH.fullmatch(name) or Path(name).suffix not in _MEDIA_TYPES:
        return None
    return _read(name)


@cache
def _read(name: str) -> ConsoleFile | None:
    file = CONSOLE_DIR / name
    if not file.is_file():
        return None
    body = file.read_text(encoding="utf-8")
    return ConsoleFile(
        body=body,
        content_type=_MEDIA_TYPES[file.suffix],
        etag='"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"',
        # The page must follow a deploy at once; the other files are revalidated after five
        # minutes (their names carry no content hash, so they cannot be immutable).
        cache_control="no-cache" if name == "index.html" else "public, max-age=300",
    )


_IMPORT_MAP = re.compile(r"<script type=\"importmap\">(.*?)</script>", re.DOTALL)


@cache
def content_security_policy() -> str:
    """Scripts from this origin and the page's own import map (by its hash), styles from this
    origin and inline (uPlot sizes its canvas with style attributes), API calls to this origin."""
    page = _read("index.html")
    maps = _IMPORT_MAP.findall(page.body) if page else []
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'" for m in maps
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ).replace("  ", " ")


def missing_vendor_files() -> list[str]:
    """The pinned libraries that ``make console`` has not copied yet."""
    return [name for name in VENDOR_FILES if not (CONSOLE_DIR / "vendor" / name).is_file()]
