"""The console's page load times at scale, in a real browser, against the local server.

N realistic agent events (default 100,000, the shapes of bench/scale.py, over the last three days)
are posted through the API (semantic search off: the overview reads rollups, not vectors), plus one
trace of 10,000 events. Then headless Chromium (Debian's ``chromium``, driven by Playwright) signs in
through the console's ``#key=`` link and measures, over ``--runs`` loads each (median, max):

- the overview for the last 7 days, until its totals show (and checks them against /stats);
- the 10,000-event trace, until its first timeline rows show, and until every page is loaded.

Baseline in the same run: the API calls behind the overview, timed from Python.

    python bench/console.py [--events 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale import KEY, Server, make_events, post_events

CHROMIUM = "/usr/bin/chromium"


def big_trace(n: int) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(hours=2)
    kinds = ["tool_call", "tool_result", "llm_call", "log"]
    return [
        {
            "timestamp": (start + timedelta(milliseconds=i * 200)).isoformat(),
            "event_type": kinds[i % 4],
            "session_id": "bench-big-trace",
            "agent_id": "bench-agent",
            "properties": {"message": f"step {i}", "tool_name": "web_search", "duration_ms": 150},
            "source": {
                "system": "cloudwatch",
                "log_group": "/aws/lambda/big",
                "log_stream": "s",
                "log_id": f"{i:056d}",
            },
        }
        for i in range(n)
    ]


def main() -> None:
    from playwright.sync_api import sync_playwright

    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--events", type=int, default=100_000)
    cli.add_argument("--runs", type=int, default=5)
    args = cli.parse_args()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), semantic=False)
        server.start()
        url = server.url
        began = time.perf_counter()
        post_events(session, url, make_events(args.events), batch=500)  # over the last three days
        post_events(session, url, big_trace(10_000), batch=500)
        print(f"ingested {args.events} + 10,000 events in {time.perf_counter() - began:.0f} s")
        end = datetime.now(UTC)
        window = {"start": (end - timedelta(days=7)).isoformat(), "end": end.isoformat()}
        api_times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            for group in ("event_type", "hour", "tool", "model", "agent_id"):
                session.get(
                    f"{url}/api/v1/stats", params={**window, "group_by": group}, timeout=60
                ).raise_for_status()
            api_times.append(time.perf_counter() - t0)
        expected = session.get(
            f"{url}/api/v1/stats", params={**window, "group_by": "event_type"}, timeout=60
        ).json()
        trace = session.get(
            f"{url}/api/v1/traces", params={"session_id": "bench-big-trace"}, timeout=60
        ).json()
        trace_id = trace["traces"][0]["trace_id"]
        overview_times, first_rows, all_rows = [], [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{url}/ui/#key={KEY}")
            page.get_by_test_id("nav-overview").wait_for()
            for _ in range(args.runs):
                t0 = time.perf_counter()
                page.goto(f"{url}/ui/#/overview?range=7d")
                page.reload()
                total = page.get_by_test_id("overview-total-events")
                total.wait_for()
                overview_times.append(time.perf_counter() - t0)
            shown = int(page.get_by_test_id("overview-total-events").get_attribute("data-value") or -1)
            for _ in range(args.runs):
                t0 = time.perf_counter()
                page.goto(f"{url}/ui/#/trace/{trace_id}")
                page.reload()
                page.get_by_test_id("timeline-row").first.wait_for()
                first_rows.append(time.perf_counter() - t0)
                page.get_by_test_id("trace-progress").wait_for(state="detached", timeout=120_000)
                all_rows.append(time.perf_counter() - t0)
            browser.close()
        rss, peak = server.memory_mib()
        server.stop()

    def fmt(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:6.0f} ms, max {max(values) * 1000:6.0f} ms"

    print(f"overview, last 7 days, {expected['total']} events     : {fmt(overview_times)}")
    print(f"  its API calls from Python (baseline)      : {fmt(api_times)}")
    ratio = statistics.median(overview_times) / statistics.median(api_times)
    print(f"  ratio page / API calls                    : {ratio:.1f}")
    print(f"  total shown {shown} = /stats total {expected['total']}: {shown == expected['total']}")
    print(f"10,000-event trace, first rows             : {fmt(first_rows)}")
    print(f"10,000-event trace, every page loaded      : {fmt(all_rows)}")
    print(f"server memory after the runs / peak        : {rss / 1024:.2f} / {peak / 1024:.2f} GiB")


if __name__ == "__main__":
    main()
