"""One error catalogue: every code that any part of the product answers with is in
``vectadb.core.errors.CATALOGUE``, with the one status it is answered with, and the docs' error
table is the catalogue's own rendering."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import vectadb
from tests.unit.test_architecture import HANDLERS
from vectadb.core.errors import CATALOGUE, VectaError, error_table_markdown

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    path
    for folder in ("lambdas", "infra")
    for path in (ROOT / folder).rglob("*.py")
    if "__pycache__" not in path.parts and path.name != "errors.py"
)
TABLE_START, TABLE_END = "<!-- error-table:start -->", "<!-- error-table:end -->"


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def _error_classes() -> set[type[VectaError]]:
    for module in pkgutil.walk_packages(vectadb.__path__, "vectadb."):
        importlib.import_module(module.name)
    for handler in HANDLERS:
        importlib.import_module(f"{handler}.handler")
    return _subclasses(VectaError)


def test_every_error_class_answers_a_catalogued_code_with_its_status() -> None:
    classes = _error_classes()
    assert len(classes) >= 15
    for cls in classes:
        assert cls.code in CATALOGUE, f"{cls.__qualname__}: {cls.code}"
        assert cls.status == CATALOGUE[cls.code].status, cls.__qualname__


def _literal_codes(tree: ast.AST) -> list[tuple[str, int | None, int]]:
    """(code, status given beside it or None, line) for every place a code is written down:
    ``code="..."`` arguments, ``code = "..."`` class attributes, ``error_body("...")``, and
    ``(status, "code", ...)`` calls and tuples of the local server and API Gateway responses."""
    found: list[tuple[str, int | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    found.append((keyword.value.value, None, node.lineno))
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            args = node.args
            if name == "error_body" and args and isinstance(args[0], ast.Constant):
                found.append((args[0].value, None, node.lineno))
            if (
                name in ("_gateway_error", "_Refused")
                and len(args) >= 2
                and isinstance(args[1], ast.Constant)
            ):
                status = args[0].value if isinstance(args[0], ast.Constant) else None
                found.append((args[1].value, status, node.lineno))
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and [getattr(t, "id", None) for t in statement.targets] == ["code"]
                    and isinstance(statement.value, ast.Constant)
                ):
                    found.append((statement.value.value, None, statement.lineno))
        elif isinstance(node, ast.Tuple) and len(node.elts) == 3:
            status, code = node.elts[0], node.elts[1]
            if (
                isinstance(status, ast.Constant)
                and isinstance(status.value, str)
                and isinstance(code, ast.Constant)
                and (status.value.isdigit() or status.value == "")  # infra/api.py's GATEWAY_ERRORS
            ):
                found.append((code.value, int(status.value) if status.value else None, node.lineno))
        elif isinstance(node, ast.Dict):  # the local server's protocol errors: {status: code}
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(key.value, int)
                    and 400 <= key.value < 600
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and value.value.replace("_", "").isalpha()
                ):
                    found.append((value.value, key.value, node.lineno))
    return found


def test_every_code_written_in_the_code_is_catalogued_with_the_status_written_beside_it() -> None:
    seen: set[str] = set()
    checked = 0
    for path in SOURCES:
        for code, status, line in _literal_codes(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{line}"
            assert code in CATALOGUE, f"{where}: {code!r} is not in the error catalogue"
            if status is not None:
                assert status == CATALOGUE[code].status, f"{where}: {code} is {CATALOGUE[code].status}"
            seen.add(code)
            checked += 1
    assert checked > 40
    assert "authorizer_error" in seen  # the scan reaches the local server
    assert "throttled" in seen  # and API Gateway's own responses


def test_every_catalogued_code_is_answered_somewhere() -> None:
    text = "\n".join(path.read_text() for path in SOURCES)
    raised = {cls.code for cls in _error_classes()}
    unused = [code for code in CATALOGUE if code not in raised and f'"{code}"' not in text]
    assert not unused, f"catalogued but never answered: {unused}"


def test_the_docs_error_table_is_the_catalogue() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    blocks = []
    for doc in docs:
        if not doc.is_file():
            continue
        text = doc.read_text()
        if TABLE_START in text:
            block = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
            blocks.append((doc.relative_to(ROOT), block.strip("\n") + "\n"))
    assert len(blocks) == 1, f"one error table, between {TABLE_START} and {TABLE_END}: {blocks}"
    where, block = blocks[0]
    assert block == error_table_markdown(), (
        f"{where}: the error table differs from the catalogue; write "
        "vectadb.core.errors.error_table_markdown() between the markers"
    )
