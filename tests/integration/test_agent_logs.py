"""The real-library corpus through the parser handler into the local API: nothing lost, nothing
stored twice, and the expectations scored (the score is printed; the parser rework raises it).

The corpus is what real agent libraries printed (tests/fixtures/agent_logs, `make agent-logs`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.integration import agent_logs

CASES = [(library, fmt) for library in agent_logs.libraries() for fmt in agent_logs.FORMATS]


def _stored(api_url: str) -> int:
    return len(agent_logs._all(api_url, "/api/v1/events", "events", start="2000-01-01T00:00:00Z"))


def test_the_corpus_is_there() -> None:
    assert agent_logs.libraries(), "no captures under tests/fixtures/agent_logs: run make agent-logs"
    for library in agent_logs.libraries():
        capture = agent_logs.load(library)
        assert capture["runs"] and capture["records"], library
        for fmt in agent_logs.FORMATS:
            deliveries = json.loads(agent_logs.delivery_file(library, fmt).read_text())
            assert deliveries and all(d["logEvents"] for d in deliveries), (library, fmt)


@pytest.mark.parametrize(("library", "fmt"), CASES)
def test_every_line_is_kept_and_a_redelivery_stores_nothing_twice(
    library: str, fmt: str, tmp_path: Path
) -> None:
    deliveries = json.loads(agent_logs.delivery_file(library, fmt).read_text())
    lines = sum(len(d["logEvents"]) for d in deliveries)
    with agent_logs.local_api() as api_url:
        first = agent_logs.feed(library, fmt, api_url, tmp_path)
        assert first["lines"] == lines
        assert first["parked"] == 0
        assert first["accepted"] == first["events"] > 0
        stored = _stored(api_url)
        assert stored == first["events"] - first["duplicates"]
        again = agent_logs.feed(library, fmt, api_url, tmp_path)
        assert again["accepted"] == again["duplicates"] == first["events"]
        assert _stored(api_url) == stored
        assert requests.get(f"{api_url}/health", timeout=10).json()["status"] in ("ok", "degraded")


def test_the_score_is_computed_for_every_library_and_format() -> None:
    scores = agent_logs.run()
    print("\n" + agent_logs.table(scores))
    assert {(s.library, s.fmt) for s in scores} == set(CASES)
    assert all(s.met or s.missed for s in scores)
