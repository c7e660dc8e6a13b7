from __future__ import annotations

from vectadb.core.event_text import event_text


def test_tool_call_text_has_type_tool_input_and_model() -> None:
    text = event_text(
        "tool_call",
        {
            "tool_name": "web_search",
            "tool_input": {"query": "weather SF", "top_k": 3},
            "model": "gpt-4o",
            "level": "INFO",
        },
        256,
    )
    assert text == 'tool_call | tool: web_search | input: {"query":"weather SF","top_k":3} | model: gpt-4o'


def test_deterministic_whatever_the_key_order() -> None:
    a = event_text("tool_call", {"tool_input": {"b": 1, "a": [2, {"y": 1, "x": 0}]}}, 256)
    b = event_text("tool_call", {"tool_input": {"a": [2, {"x": 0, "y": 1}], "b": 1}}, 256)
    assert a == b


def test_message_and_error_texts_and_whitespace() -> None:
    text = event_text("error", {"error": "KeyError:\n  'customer_id'", "message": "ticket   failed"}, 256)
    assert text == "error | message: ticket failed | error: KeyError: 'customer_id'"


def test_alternative_property_names() -> None:
    text = event_text(
        None, {"gen_ai.tool.name": "sql", "arguments": "SELECT 1", "gen_ai.request.model": "m"}, 256
    )
    assert text == "event | tool: sql | input: SELECT 1 | model: m"


def test_other_scalars_when_nothing_else_is_known() -> None:
    text = event_text("lambda_report", {"duration_ms": 12.5, "memory_size_mb": 512, "nested": {"x": 1}}, 256)
    assert text == "lambda_report | duration_ms=12.5 memory_size_mb=512"


def test_truncated_to_the_token_budget() -> None:
    long = "word " * 10_000
    text = event_text("log", {"message": long, "error": long}, 64)
    assert len(text) <= 64 * 8
    assert text.startswith("log | message: word word")
