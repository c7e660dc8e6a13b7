"""The layers of lambdas/, written down once (here), and checked on every import, lazy ones too.

A package may import its own modules and the packages listed for it, nothing else: the domain
never imports a handler, nothing imports local/ (the local server, feed and command lines, left out
of every function's code asset), and there is no import cycle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
HANDLERS = tuple(sorted(path.parent.name for path in LAMBDAS.glob("*/handler.py")))  # every function
DOMAIN = ("core", "stores", "logparse", "semantic", "forwarder", "service", "api")

# Bottom to top. Each package, and what it may import besides itself.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),  # the model, ids, errors, configuration: no I/O
    "stores": frozenset({"core"}),  # SurrealDB, the key table
    "logparse": frozenset({"core"}),  # log lines -> events
    "semantic": frozenset({"core", "stores"}),  # embedder, vector index
    "forwarder": frozenset({"core", "logparse"}),  # deliveries -> the API, dead letters
    "service": frozenset({"core", "stores", "semantic"}),  # what the API does
    "api": frozenset({"core"}),  # request bodies beyond Powertools
    **{handler: frozenset(DOMAIN) for handler in HANDLERS},  # thin: parse, call one function, answer
    "local": frozenset({*DOMAIN, *HANDLERS}),  # drives the handlers as API Gateway and Lambda would
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LAMBDAS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    _module_name(path): path
    for path in sorted(LAMBDAS.rglob("*.py"))
    if "__pycache__" not in path.parts and path.relative_to(LAMBDAS).parts[0] in ("vectadb", *HANDLERS)
}


def _package(module: str) -> str | None:
    """The layer a module belongs to: vectadb.<package>..., or a handler's top-level package."""
    parts = module.split(".")
    if parts[0] == "vectadb":
        return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None
    return parts[0] if parts[0] in HANDLERS else None


def _imports(module: str) -> set[str]:
    """Every module of ours that ``module`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from vectadb.service import ingestion`` imports the module vectadb.service.ingestion
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in MODULES else node.module for name in names]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    found.discard(module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def test_the_scan_sees_every_layer_and_the_lazy_imports() -> None:
    assert {_package(module) for module in MODULES} >= set(ALLOWED)
    assert "ingest.handler" in GRAPH["vectadb.local.server"]  # imported inside a function
    assert sum(len(targets) for targets in GRAPH.values()) > 100


def test_every_import_goes_down_the_layers() -> None:
    violations = []
    for module, targets in GRAPH.items():
        layer = _package(module)
        if layer is None:  # vectadb/__init__.py: the version, imports nothing
            assert not targets, module
            continue
        for target in sorted(targets):
            other = _package(target)
            if other is not None and other != layer and other not in ALLOWED[layer]:
                violations.append(f"{module} ({layer}) imports {target} ({other})")
    assert not violations, "\n".join(violations)


def test_there_is_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(GRAPH[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])
