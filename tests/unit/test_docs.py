"""The docs say what the code does: docs/openapi.json is the document the API serves, the
configuration table names every setting (and nothing else), and every relative link in README.md,
DEVELOPMENT.md and docs/ reaches a file (and, for a Markdown page, the heading it names)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

from pydantic_settings import BaseSettings

from vectadb.core import config
from vectadb.local import docs

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
PAGES = [ROOT / "README.md", ROOT / "DEVELOPMENT.md", *sorted((ROOT / "docs").glob("*.md"))]
VARIABLE = re.compile(r"\bVECTADB_[A-Z0-9_]+\b")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


# -- the OpenAPI document ---------------------------------------------------------------------


def _differences(committed: object, served: object, where: str = "") -> list[str]:
    if isinstance(committed, dict) and isinstance(served, dict):
        found = []
        for key in sorted(committed.keys() | served.keys()):
            path = f"{where}/{key}"
            if key not in served:
                found.append(f"{path}: not served")
            elif key not in committed:
                found.append(f"{path}: not in docs/openapi.json")
            else:
                found += _differences(committed[key], served[key], path)
        return found
    return [] if committed == served else [f"{where or '/'}: differs"]


def test_the_committed_openapi_document_is_the_served_one() -> None:
    assert docs.OPENAPI == ROOT / "docs" / "openapi.json"
    assert docs.OPENAPI.is_file(), "docs/openapi.json is missing: run `make docs`"
    committed = json.loads(docs.OPENAPI.read_text())
    served = docs.openapi_document()
    assert served["paths"], "the served document has no paths"
    differences = _differences(committed, served)
    assert not differences, (
        "docs/openapi.json differs from the OpenAPI document the API serves: run `make docs`\n  "
        + "\n  ".join(differences[:20])
    )


def test_the_openapi_document_is_written_pretty_and_sorted() -> None:
    text = docs.openapi_text({"b": 1, "a": {"d": [1], "c": "é"}})
    assert text == '{\n  "a": {\n    "c": "é",\n    "d": [\n      1\n    ]\n  },\n  "b": 1\n}\n'


# -- the configuration table ------------------------------------------------------------------


def _settings_models() -> list[type[BaseSettings]]:
    models = [
        value
        for value in vars(config).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value is not BaseSettings
        and value.__module__ == config.__name__
    ]
    assert {model.__name__ for model in models} >= {"Settings", "ParserSettings"}
    return models


def _variables(model: type[BaseSettings]) -> set[str]:
    """The environment variable of each field: its alias when it has one, else prefix + name."""
    prefix = model.model_config.get("env_prefix", "")
    names = set()
    for name, field in model.model_fields.items():
        alias = field.validation_alias or field.alias
        if alias is None:
            names.add(f"{prefix}{name}".upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:  # AliasChoices: each choice is a variable; AliasPath reads inside one
            for choice in getattr(alias, "choices", [alias]):
                names.add(str(choice if isinstance(choice, str) else choice.path[0]).upper())
    return names


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not set(line) <= {"|", "-", " ", ":"}:
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_the_settings_are_read_from_vectadb_variables() -> None:
    for model in _settings_models():
        variables = _variables(model)
        assert variables, model.__name__
        assert all(name.startswith("VECTADB_") for name in variables), (model.__name__, variables)


def test_the_configuration_table_names_every_setting_and_nothing_else() -> None:
    rows = _table_rows(CONFIGURATION.read_text())
    documented = {name for row in rows for name in VARIABLE.findall(row[0])}
    mentioned = {name for row in rows for cell in row for name in VARIABLE.findall(cell)}
    fields = set().union(*(_variables(model) for model in _settings_models()))
    assert len(fields) > 40
    missing = sorted(fields - documented)
    assert not missing, f"docs/configuration.md has no row for {missing} (see vectadb/core/config.py)"
    unknown = sorted(mentioned - fields)
    assert not unknown, f"docs/configuration.md names variables that no setting reads: {unknown}"


# -- links ------------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^#{1,6} (.+)$", line)):
            slug = _slug(match.group(1))
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)  # code is not a link
    return LINK.findall(text)


def test_the_readme_links_every_docs_page() -> None:
    linked = {target.split("#")[0] for target in _links(ROOT / "README.md")}
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")}
    assert pages, "no docs/*.md pages"
    assert not pages - linked, f"README.md does not link {sorted(pages - linked)}"
    assert "DEVELOPMENT.md" in linked


def test_every_relative_link_reaches_its_file_and_heading() -> None:
    broken = []
    checked = 0
    for page in PAGES:
        assert page.is_file(), page.relative_to(ROOT)
        for target in _links(page):
            if re.match(r"^[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = unquote(target).partition("#")
            resolved = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}: ({target})"
            checked += 1
            if not resolved.exists():
                broken.append(f"{where}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{where}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert checked > 30
    assert not broken, "broken links:\n  " + "\n  ".join(broken)
