"""The web console in a real browser against the real local server (see conftest.py and dataset.py).

Every figure a test expects is read from the API (or the generated data set), never written here.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from playwright.sync_api import Page, expect

from tests.e2e import dataset
from tests.e2e.conftest import BrowserLog, LiveServer, attrs_of

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
KEY_STORE = "vectadb.key"  # api.js
BIG_TRACE_BUDGET_S = 2.0
NUMBER = re.compile(r"^\d+$")

Shot = Callable[..., Path]


def _value(page: Page, testid: str) -> str:
    value = page.get_by_test_id(testid).get_attribute("data-value")
    assert value is not None, testid
    return value


def _all_traces(live: LiveServer, **query: Any) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = live.get("traces", limit=1000, cursor=cursor, **query)
        traces += page["traces"]
        cursor = page["next_cursor"]
        if not cursor:
            return traces


def _trace_events(live: LiveServer, trace_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = live.get(f"traces/{trace_id}", limit=1000, cursor=cursor)
        events += page["events"]
        cursor = page["next_cursor"]
        if not cursor:
            return events


def _row_ids(page: Page) -> list[str]:
    return attrs_of(page, "[data-testid=trace-row]", "data-trace-id")


# -- sign-in --------------------------------------------------------------------------------------


def test_sign_in_link_moves_the_key_into_session_storage(page: Page, live: LiveServer, shot: Shot) -> None:
    response = page.goto(f"{live.ui}#key={live.key}")
    expect(page.get_by_test_id("overview-total-events")).to_be_visible()
    shot("overview-after-sign-in")
    # The page came with its CSP (no inline script but the import map; API calls to this origin only),
    # and the app ran under it (a violation would be a console error, failing the test).
    assert response is not None and response.ok
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "connect-src 'self'" in csp, csp
    # The key left the address bar, and sits in this tab's sessionStorage only.
    assert "key=" not in page.url and live.key not in page.url, page.url
    assert urlsplit(page.url).fragment == "/overview"
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORE}')") == live.key
    assert page.evaluate("JSON.stringify(localStorage)").find(live.key) == -1
    assert page.evaluate("document.cookie") == ""
    # A reload keeps the session; signing out forgets the key.
    page.reload()
    expect(page.get_by_test_id("overview-total-events")).to_be_visible()
    page.get_by_test_id("signout").click()
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORE}')") is None
    shot("signed-out")


def test_wrong_key_returns_to_sign_in_with_a_clear_message(
    page: Page, live: LiveServer, browser_log: BrowserLog, shot: Shot
) -> None:
    # Chromium logs every refused request ("Failed to load resource: ... 403"): expected here only.
    browser_log.allow(r"status of 40[13]")
    # A wrong key in the sign-in link: the first API call is refused and the page goes back to sign-in.
    page.goto(f"{live.ui}#key=vdb_wrong-key-0123456789abcdefghijklmnopqrstu")
    error = page.get_by_test_id("signin-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("The key was refused (HTTP 403")
    expect(error).to_contain_text("Sign in again")
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORE}')") is None
    assert "key=" not in page.url
    shot("refused-link")
    # A wrong key typed into the form: refused, not kept, the form stays.
    page.get_by_test_id("signin-input").fill("vdb_also-wrong-0123456789abcdefghijklmnopqrst")
    page.get_by_test_id("signin-submit").click()
    expect(error).to_contain_text("The key was refused (HTTP 403")
    expect(error).to_contain_text("Check it and try again")
    expect(page.get_by_test_id("signin-input")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORE}')") is None
    shot("refused-form")
    # The right key through the same form signs in.
    page.get_by_test_id("signin-input").fill(live.key)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("overview-total-events")).to_be_visible()
    assert browser_log.tolerated, "the refused key should have shown as a failed request"


# -- overview -------------------------------------------------------------------------------------


def test_overview_totals_match_the_api_and_charts_render(
    page: Page, live: LiveServer, shot: Shot, report: Callable[[str], None]
) -> None:
    started = time.perf_counter()
    with page.expect_request(lambda r: "/api/v1/stats?" in r.url and "group_by=event_type" in r.url) as asked:
        page.goto(f"{live.ui}#key={live.key}")
    expect(page.get_by_test_id("overview-total-events")).to_have_attribute("data-value", NUMBER)
    plots = ["chart-events-plot", "chart-tokens-plot", "chart-durations-plot"]
    for plot in plots:
        expect(page.locator(f"[data-testid={plot}] canvas").first).to_be_visible()
    expect(page.get_by_test_id("overview-traces-total")).to_have_attribute("data-value", NUMBER)
    elapsed = time.perf_counter() - started
    data = live.data
    report(
        f"overview: totals and charts shown {elapsed:.2f} s after navigation "
        f"({len(data.events):,} generated events in {len(data.traces)} traces, plus the demo's)"
    )
    shot("overview")

    # The same window, asked of the API.
    query = {k: v[0] for k, v in parse_qs(urlsplit(asked.value.url).query).items()}
    span = {"start": query["start"], "end": query["end"]}
    stats = live.get("stats", group_by="event_type", **span)
    bucket = {b["key"]: b for b in stats["buckets"]}
    assert _value(page, "overview-total-events") == str(stats["total"])
    assert _value(page, "overview-total-errors") == str(stats["errors"])
    assert _value(page, "overview-llm-calls") == str(bucket["llm_call"]["total"])
    assert _value(page, "overview-tool-calls") == str(bucket["tool_call"]["total"])
    assert _value(page, "overview-input-tokens") == str(sum(b["input_tokens"] for b in stats["buckets"]))
    assert _value(page, "overview-output-tokens") == str(sum(b["output_tokens"] for b in stats["buckets"]))
    assert abs(float(_value(page, "overview-cost")) - sum(b["cost_usd"] for b in stats["buckets"])) < 1e-6
    for status in ("running", "completed", "failed"):
        assert _value(page, f"overview-traces-{status}") == str(len(_all_traces(live, status=status, **span)))
        assert stats["traces"][status] == len(_all_traces(live, status=status, **span))
    # Invocation percentiles, from the Lambda reports of the window (the demo's and the generated).
    assert stats["invocations"]["count"] > 0
    assert float(_value(page, "overview-invocation-pct")) == stats["invocations"]["p95_ms"]
    expect(page.get_by_test_id("overview-invocation-pct")).to_contain_text(" / ")

    # The window covers the generated data (and the figures shown are not zero by accident).
    generated = data.events
    assert stats["total"] >= len(generated)
    assert bucket["llm_call"]["total"] >= sum(e["event_type"] == "llm_call" for e in generated)
    assert stats["errors"] >= len(data.failed)
    assert int(_value(page, "overview-traces-failed")) >= len(data.failed)
    # The shown text is the number, formatted.
    expect(page.get_by_test_id("overview-total-events")).to_have_text(f"{stats['total']:,}")
    # The bar lists are filled from the same answers: every generated model is listed.
    models = page.get_by_test_id("models-tokens")
    for model in dataset.MODELS:
        expect(models).to_contain_text(model)
    for plot in plots:
        box = page.locator(f"[data-testid={plot}] canvas").first.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, (plot, box)


# -- traces -------------------------------------------------------------------------------------


def test_failed_trace_shows_its_error_row_highlighted(signed_in: Page, live: LiveServer, shot: Shot) -> None:
    page = signed_in
    page.get_by_test_id("nav-traces").click()
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    page.get_by_test_id("filter-status").select_option("failed")
    page.wait_for_url("**/ui/#/traces?status=failed")
    # Only failed traces are listed, the API's failed traces, newest first.
    expect(page.locator("[data-testid=trace-row]:not([data-status=failed])")).to_have_count(0)
    rows = _row_ids(page)
    api_failed = live.get("traces", status="failed", limit=len(rows))["traces"]
    assert rows == [t["trace_id"] for t in api_failed]
    # Each row shows the trace's own error count, tokens and cost, as the API counts them.
    for trace in api_failed:
        row = page.locator(f"[data-testid=trace-row][data-trace-id='{trace['trace_id']}']")
        assert row.get_by_test_id("trace-errors").get_attribute("data-value") == str(trace["error_count"])
        tokens = trace["input_tokens"] + trace["output_tokens"]
        assert row.get_by_test_id("trace-tokens").get_attribute("data-value") == str(tokens)
    assert all(t["error_count"] > 0 for t in api_failed)
    shot("traces-failed")

    # "Has errors" lists exactly the API's traces with an error event.
    page.get_by_test_id("filter-status").select_option("")
    page.get_by_test_id("filter-errors").select_option("true")
    page.wait_for_url("**/ui/#/traces?errors=true")
    with_errors = live.get("traces", has_errors="true", limit=50)["traces"]
    expect(page.get_by_test_id("trace-row")).to_have_count(len(with_errors))
    assert _row_ids(page) == [t["trace_id"] for t in with_errors]
    page.get_by_test_id("filter-errors").select_option("")
    page.get_by_test_id("filter-status").select_option("failed")
    page.wait_for_url("**/ui/#/traces?status=failed")

    failed = next(t for t in live.data.failed if t.trace_id in rows)
    page.locator(f"[data-testid=trace-row][data-trace-id='{failed.trace_id}'] td").nth(3).click()
    page.wait_for_url(f"**/ui/#/trace/{failed.trace_id}")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.get_by_test_id("timeline-row")).to_have_count(len(failed.events))
    expect(page.locator("h1.trace-title")).to_contain_text("failed")

    # The rows flagged as errors are exactly the API's error events; the agent_error among them.
    expected = {e["event_id"] for e in _trace_events(live, failed.trace_id) if e["is_error"]}
    flagged = set(attrs_of(page, "[data-testid=timeline-row][data-error=true]", "data-event-id"))
    assert flagged == expected
    agent_error = page.locator("[data-testid=timeline-row][data-event-type=agent_error]")
    expect(agent_error).to_have_attribute("data-error", "true")
    expect(agent_error).to_have_class(re.compile(r"\berror\b"))
    # Highlighted: its background and text drawn unlike a plain row's (neither active nor selected).
    plain = page.locator("[data-testid=timeline-row][data-error=false]:not(.active):not(.selected)").first
    look = (
        "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el.querySelector('.wf-name')).color]"
    )
    error_look, plain_look = agent_error.evaluate(look), plain.evaluate(look)
    assert error_look[0] != plain_look[0], (error_look, plain_look)
    assert error_look[1] != plain_look[1], (error_look, plain_look)
    expect(page.get_by_test_id("trace-errors")).to_have_text(str(len(expected)))
    shot("trace-failed")


def test_event_panel_shows_type_and_properties(signed_in: Page, live: LiveServer, shot: Shot) -> None:
    page = signed_in
    trace = next(t for t in live.data.small if not t.failed)
    page.goto(f"{live.ui}#/trace/{trace.trace_id}")
    expect(page.get_by_test_id("timeline-row")).to_have_count(len(trace.events))
    llm = next(e for e in trace.events if e["event_type"] == "llm_call")
    page.locator(f"[data-testid=timeline-row][data-event-id='{llm['event_id']}']").click()

    panel = page.get_by_test_id("event-panel")
    expect(panel).to_be_visible()
    page.wait_for_url(f"**/ui/#/trace/{trace.trace_id}?event={llm['event_id']}")
    stored = live.get(f"events/{llm['event_id']}")
    expect(panel.locator("h2")).to_contain_text("llm_call")
    expect(panel.get_by_test_id("panel-event-id")).to_have_text(llm["event_id"])
    props = stored["properties"]
    expect(panel.get_by_test_id("panel-model")).to_have_text(props["model"])
    expect(panel.get_by_test_id("panel-input-tokens")).to_have_text(f"{props['input_tokens']:,}")
    expect(panel.get_by_test_id("panel-output-tokens")).to_have_text(f"{props['output_tokens']:,}")
    assert json.loads(panel.get_by_test_id("panel-properties").inner_text()) == props
    expect(panel.get_by_test_id("panel-source")).to_contain_text(llm["source"]["log_group"])
    # Its neighbours in meaning, from GET /events/{id}/similar.
    expect(panel.get_by_test_id("similar-item").first).to_be_visible()
    expect(page.locator(f"[data-testid=timeline-row][data-event-id='{llm['event_id']}']")).to_have_attribute(
        "aria-selected", "true"
    )
    shot("event-panel", full_page=False)
    page.get_by_test_id("panel-close").click()
    expect(panel).to_have_count(0)
    page.wait_for_url(f"**/ui/#/trace/{trace.trace_id}")


def test_semantic_search_lands_on_the_hit(signed_in: Page, live: LiveServer, shot: Shot) -> None:
    page = signed_in
    page.get_by_test_id("nav-search").click()
    page.get_by_test_id("search-input").fill(dataset.NEEDLE_QUERY)
    page.get_by_test_id("search-submit").click()
    hits = page.get_by_test_id("search-hit")
    expect(hits.first).to_be_visible()
    shown = attrs_of(page, "[data-testid=search-hit]", "data-event-id")
    # The page shows the API's answer, closest first; the event meant is the closest.
    answer = live.post("search", {"query": dataset.NEEDLE_QUERY, "limit": len(shown)})
    assert shown == [h["event"]["event_id"] for h in answer["hits"]]
    assert shown[0] == live.data.needle_event_id
    shot("search")

    first = hits.first
    trace_id = first.get_attribute("data-trace-id")
    first.get_by_test_id("hit-link").click()
    page.wait_for_url(f"**/ui/#/trace/{trace_id}?event={shown[0]}")
    panel = page.get_by_test_id("event-panel")
    expect(panel.get_by_test_id("panel-event-id")).to_have_text(shown[0])
    expect(panel.get_by_test_id("panel-error-text")).to_contain_text(dataset.NEEDLE_ERROR)
    row = page.locator(f"[data-testid=timeline-row][data-event-id='{shown[0]}']")
    expect(row).to_have_attribute("aria-selected", "true")
    expect(row).to_be_in_viewport()
    shot("search-hit-opened", full_page=False)


def test_trace_list_pages_forward_and_back(signed_in: Page, live: LiveServer, shot: Shot) -> None:
    page = signed_in
    page.get_by_test_id("nav-traces").click()
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 1")
    expect(page.get_by_test_id("page-prev")).to_be_disabled()
    first = _row_ids(page)
    size = len(first)
    api_first = live.get("traces", limit=size)
    assert first == [t["trace_id"] for t in api_first["traces"]]
    assert api_first["next_cursor"], "the data set should fill more than one page"
    shot("traces-page-1")

    page.get_by_test_id("page-next").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 2")
    expect(page.get_by_test_id("trace-row").first).not_to_have_attribute("data-trace-id", first[0])
    second = _row_ids(page)
    assert second and not set(second) & set(first)
    api_second = live.get("traces", limit=size, cursor=api_first["next_cursor"])
    assert second == [t["trace_id"] for t in api_second["traces"]]
    shot("traces-page-2")

    page.get_by_test_id("page-prev").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 1")
    expect(page.get_by_test_id("trace-row").first).to_have_attribute("data-trace-id", first[0])
    assert _row_ids(page) == first
    expect(page.get_by_test_id("page-prev")).to_be_disabled()


def test_ten_thousand_event_trace_opens_fast(
    signed_in: Page, live: LiveServer, shot: Shot, report: Callable[[str], None]
) -> None:
    page = signed_in
    big = live.data.big
    url = f"{live.ui}#/trace/{big.trace_id}"
    first_row = page.get_by_test_id("timeline-row").first
    # Cold: the console itself loads first (signed in, from a blank tab of the same session).
    page.goto("about:blank")
    started = time.perf_counter()
    page.goto(url)
    first_row.wait_for(state="visible")
    cold = time.perf_counter() - started
    # From within the console, as a click on the trace list does (the page is already loaded).
    page.get_by_test_id("nav-traces").click()
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    started = time.perf_counter()
    page.goto(url)
    first_row.wait_for(state="visible")
    opened = time.perf_counter() - started
    expect(first_row).to_have_attribute("data-event-id", big.events[0]["event_id"])
    shot("big-trace-first-rows", full_page=False)
    # All of it arrives page after page; only the rows in view are in the DOM.
    expect(page.get_by_test_id("trace-progress")).to_have_count(0, timeout=60_000)
    loaded = time.perf_counter() - started
    expect(page.get_by_test_id("trace-events")).to_have_text(f"{dataset.BIG_EVENTS:,}")
    in_dom = page.get_by_test_id("timeline-row").count()
    assert 0 < in_dom < 200, in_dom
    # The last event is reachable by scrolling.
    page.get_by_test_id("timeline-list").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(
        page.locator(f"[data-testid=timeline-row][data-event-id='{big.events[-1]['event_id']}']")
    ).to_be_visible()
    shot("big-trace-end", full_page=False)
    report(
        f"{dataset.BIG_EVENTS:,}-event trace: first rows visible {opened:.2f} s after navigation "
        f"({cold:.2f} s with the console loading too), all events loaded after {loaded:.2f} s "
        f"({in_dom} rows in the DOM)"
    )
    for what, took in (("navigation", opened), ("cold load", cold)):
        assert took < BIG_TRACE_BUDGET_S, (
            f"{what}: first rows after {took:.2f} s (budget {BIG_TRACE_BUDGET_S} s)"
        )


# -- the screenshots in docs/console.md -----------------------------------------------------------


def test_docs_screenshots(signed_in: Page, live: LiveServer, tmp_path: Path) -> None:
    """Screenshots of the pages as they are now (light theme), into the test's directory; with
    VECTADB_UPDATE_SCREENSHOTS=1 (`make screenshots`) they replace docs/screenshots/*.png."""
    page = signed_in
    shots = SCREENSHOTS if os.environ.get("VECTADB_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    expect(page.locator("[data-testid=chart-events-plot] canvas").first).to_be_visible()
    page.mouse.move(0, 0)
    page.screenshot(path=shots / "overview.png", full_page=True)

    page.get_by_test_id("nav-traces").click()
    expect(page.get_by_test_id("trace-row").first).to_be_visible()
    page.screenshot(path=shots / "traces.png")

    failed = live.data.failed[0]
    error = next(e for e in failed.events if e["event_type"] == "agent_error")
    page.goto(f"{live.ui}#/trace/{failed.trace_id}?event={error['event_id']}")
    expect(page.get_by_test_id("event-panel").get_by_test_id("panel-event-id")).to_have_text(
        error["event_id"]
    )
    expect(page.get_by_test_id("similar-item").first).to_be_visible()
    page.screenshot(path=shots / "trace-failed.png")

    page.goto(f"{live.ui}#/search?{urlencode({'q': dataset.NEEDLE_QUERY})}")
    expect(page.get_by_test_id("search-hit").first).to_be_visible()
    page.screenshot(path=shots / "search.png")
    for name in ("overview", "traces", "trace-failed", "search"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
        assert (SCREENSHOTS / f"{name}.png").is_file(), "docs/console.md shows it: run make screenshots"
