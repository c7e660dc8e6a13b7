from __future__ import annotations

import pytest
from pydantic import ValidationError

from vectadb.core.config import Settings


def test_environment_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTADB_TERMINAL_EVENT_TYPES", "agent_end=completed, run_failed=failed")
    monkeypatch.setenv("VECTADB_ERROR_EVENT_TYPES", "error,exception")
    monkeypatch.setenv("VECTADB_SURREAL_URL", "ws://surrealdb.vectadb.local:8000")
    settings = Settings()
    assert settings.terminal_event_types == {"agent_end": "completed", "run_failed": "failed"}
    assert settings.error_event_types == frozenset({"error", "exception"})
    assert settings.surreal_url == "ws://surrealdb.vectadb.local:8000"


def test_defaults_follow_the_issue() -> None:
    settings = Settings(_env_file=None)
    assert settings.terminal_event_types == {
        "agent_end": "completed",
        "lambda_report": "completed",
        "agent_error": "failed",
    }
    assert settings.max_batch_events == 1000
    assert settings.max_body_bytes < 6 * 1024 * 1024


@pytest.mark.parametrize("value", ["agent_end", "agent_end=running", "agent_end=done"])
def test_bad_terminal_types_are_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(terminal_event_types=value)


def test_password_is_secret() -> None:
    settings = Settings(surreal_password="hunter2")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
