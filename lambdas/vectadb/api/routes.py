"""Which paths answer without an API key: the health check and the console's files (the page asks
for a key and sends it with every API call). API Gateway's routes (infra/api.py), the ingest
function and the local server all take the answer from here."""

from __future__ import annotations

CONSOLE_PREFIX = "/ui"
PUBLIC_PATHS = frozenset({"/health", "/", CONSOLE_PREFIX})


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(CONSOLE_PREFIX + "/")
