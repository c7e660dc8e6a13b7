"""End-to-end fixtures: the real local server in a subprocess, seeded; headless Chromium via Playwright.

- ``live``: ``python -m vectadb.local.server --port 0 --demo lambdas/parser/demo`` in a temporary
  working directory (its stores on disk there, as ``make dev`` keeps them under ./.vectadb/), the
  test key in VECTADB_API_KEYS, the repository's model; then the generated data set
  (tests/e2e/dataset.py) posted through the API.
- ``browser``: Debian's Chromium (``/usr/bin/chromium``, or $VECTADB_E2E_CHROMIUM) driven by
  Playwright; Playwright's own browser download is never used. A missing browser fails every test
  with what to install; nothing is skipped.
- Both last as long as this package's tests: Playwright's sync API leaves its event loop marked as
  running on this thread (``asyncio.run`` would refuse to start in the tests that follow).
- ``page`` (per test): a fresh light-themed context; its console errors and page errors fail the
  test (``browser_log.allow`` lets a test expect some); ``shot`` saves screenshots into the test's
  tmp_path, and a last one is saved when the test ends.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from tests.conftest import MODEL_DIR, TEST_KEY
from tests.e2e import dataset
from vectadb.api.console import missing_vendor_files

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("VECTADB_E2E_CHROMIUM", "/usr/bin/chromium"))
DEMO = ROOT / "lambdas" / "parser" / "demo"
START_TIMEOUT = 60.0
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
BROWSER_MISSING = (
    f"no Chromium at {CHROMIUM}: the browser tests drive Debian's `chromium` package "
    "(`apt-get install -y chromium`, which `make e2e` and `make test` run when root), "
    "or set VECTADB_E2E_CHROMIUM to another Chromium binary. Never `playwright install`."
)


FIGURES = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES] = []


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The figures the tests measured (load times), shown with or without -s."""
    figures = config.stash.get(FIGURES, [])
    if figures:
        terminalreporter.section("console measurements")
        for line in figures:
            terminalreporter.write_line(line)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """report("..."): a measured figure, printed now and again in the run's summary."""

    def add(line: str) -> None:
        print(line)
        request.config.stash[FIGURES].append(line)

    return add


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


# -- the server ---------------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    key: str
    log: Path
    data: dataset.Dataset
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def ui(self) -> str:
        return f"{self.url}/ui/"

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(
            f"{self.url}/api/v1/{path}",
            params={k: v for k, v in params.items() if v is not None},
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text[:2000]
        return response.json()

    def post(self, path: str, body: Any) -> Any:
        response = self.http.post(
            f"{self.url}/api/v1/{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text[:2000]
        return response.json()


def _server_env() -> dict[str, str]:
    """`make dev`'s environment (no VECTADB_* from this process: tests/conftest.py sets mem:// stores)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTADB_")}
    env |= {
        "PYTHONPATH": str(ROOT / "lambdas"),
        "PYTHONUNBUFFERED": "1",
        "VECTADB_API_KEYS": TEST_KEY,
        "VECTADB_MODEL_DIR": str(MODEL_DIR),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    return env


def _wait_for(log: Path, proc: subprocess.Popen[bytes], pattern: str, what: str) -> re.Match[str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        match = re.search(pattern, text)
        if match:
            return match
        if proc.poll() is not None:
            pytest.fail(f"the local server exited ({proc.returncode}) before {what}:\n{text[-4000:]}")
        time.sleep(0.1)
    pytest.fail(f"no {what} within {START_TIMEOUT:.0f} s:\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[LiveServer]:
    if not (MODEL_DIR / "vectadb-model.json").exists():
        pytest.fail(f"no embedding model in {MODEL_DIR}: run `make model` first")
    missing = missing_vendor_files()
    if missing:
        pytest.fail(f"the console's libraries are missing ({', '.join(missing)}): run `make console` first")
    workdir = tmp_path_factory.mktemp("server")
    log = workdir / "server.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vectadb.local.server", "--port", "0", "--demo", str(DEMO)],
            cwd=workdir,
            env=_server_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = _wait_for(log, proc, r"listening on (http://\S+)", "its banner").group(1)
        fed = _wait_for(
            log,
            proc,
            r"vectadb: (fed \d+ demo log files.*?(\d+) events.*?(\d+) parked|the demo feed failed.*)",
            "the demo",
        )
        assert fed.group(1).startswith("fed"), fed.group(0)
        assert int(fed.group(2)) > 0, fed.group(0)
        assert fed.group(3) == "0", fed.group(0)
        data = dataset.build(datetime.now(UTC))
        server = LiveServer(url=url, key=TEST_KEY, log=log, data=data)
        seeded = time.perf_counter()
        dataset.post(server.http, url, TEST_KEY, data.events)
        big = server.get(f"traces/{data.big.trace_id}", limit=1)["trace"]
        assert big["total_events"] == dataset.BIG_EVENTS, big
        figure = (
            f"server: started and fed the demo in {seeded - started:.1f} s; posted {len(data.events):,} events "
            f"({len(data.small)} small traces and one of {dataset.BIG_EVENTS:,}) in "
            f"{time.perf_counter() - seeded:.1f} s; its log: {log}"
        )
        print(figure)
        pytestconfig.stash[FIGURES].append(figure)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(BROWSER_MISSING)
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield chromium
    chromium.close()


class BrowserLog:
    """Console errors and uncaught page errors; any that is not allowed fails the test."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.allowed: list[re.Pattern[str]] = []
        self.tolerated: list[str] = []

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def _add(self, text: str) -> None:
        if any(p.search(text) for p in self.allowed):
            self.tolerated.append(text)
        else:
            self.problems.append(text)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            self._add(f"console error: {message.text} ({where.get('url', '')}:{where.get('lineNumber', '')})")

    def on_page_error(self, error: Error) -> None:
        self._add(f"page error: {error.name}: {error.message}\n{error.stack or ''}")

    def check(self) -> None:
        assert not self.problems, "the browser reported errors:\n" + "\n".join(self.problems)


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test's own checks: the browser's errors fail it too."""
    log = getattr(item, "funcargs", {}).get("browser_log")
    try:
        result = yield
    except BaseException as exc:
        if isinstance(log, BrowserLog) and log.problems:
            exc.add_note("the browser also reported:\n" + "\n".join(log.problems))
        raise
    if isinstance(log, BrowserLog):
        log.check()
    return result


@pytest.fixture
def page(browser: Browser, browser_log: BrowserLog, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light", locale="en-US", timezone_id="UTC")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.on("console", browser_log.on_console)
    tab.on("pageerror", browser_log.on_page_error)
    yield tab
    try:
        tab.screenshot(path=tmp_path / "zz-last.png", full_page=True)
    finally:
        context.close()


@pytest.fixture
def shot(page: Page, tmp_path: Path) -> Callable[[str], Path]:
    """shot("name"): the page as it is now, into the test's tmp_path (numbered in order)."""
    taken: list[Path] = []

    def take(name: str, *, full_page: bool = True) -> Path:
        path = tmp_path / f"{len(taken):02d}-{name}.png"
        page.screenshot(path=path, full_page=full_page)
        taken.append(path)
        return path

    return take


@pytest.fixture
def signed_in(page: Page, live: LiveServer) -> Page:
    """The page signed in through the sign-in link `make dev` prints, on the overview."""
    page.goto(f"{live.ui}#key={live.key}")
    page.get_by_test_id("overview-total-events").wait_for()
    return page


def attrs_of(page: Page, selector: str, attribute: str) -> list[str]:
    """An attribute of every element that matches, in document order."""
    return page.eval_on_selector_all(
        selector, f"els => els.map(e => e.getAttribute({json.dumps(attribute)}))"
    )
