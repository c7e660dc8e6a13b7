"""The text that represents an event in vector space.

    <event_type> | tool: <name> | input: <tool input> | message: <text> | error: <text> | model: <name>

- Parts come from well-known property names (first match wins, see the tuples below); absent
  parts are left out. Structured values are written as compact JSON with sorted keys, so the same
  event always gives the same text.
- When an event has none of tool, input, message or error, its other scalar properties are
  written as ``key=value`` pairs instead, so that every event has some meaning to embed.
- Each part is capped, and the whole text is capped to a character budget of 8 per model token;
  the model's tokenizer then truncates to its exact token limit (256 for MiniLM, 512 for BGE).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

TOOL_KEYS = ("tool_name", "tool", "gen_ai.tool.name")
INPUT_KEYS = ("tool_input", "input", "arguments", "gen_ai.tool.call.arguments")
MESSAGE_KEYS = ("message", "msg", "text", "prompt", "output", "result")
ERROR_KEYS = ("error", "error_message", "exception", "traceback")
MODEL_KEYS = ("model", "model_name", "gen_ai.request.model", "gen_ai.response.model")
_PART_CHARS = 1000
_CHARS_PER_TOKEN = 8  # generous, so the tokenizer's own limit is the one that cuts


def _render(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.split())
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _first(properties: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = properties.get(key)
        if value not in (None, "", {}, []):
            return _render(value)[:_PART_CHARS]
    return None


def event_text(event_type: str | None, properties: Mapping[str, Any], max_tokens: int) -> str:
    parts = [event_type or "event"]
    labelled = (
        ("tool", _first(properties, TOOL_KEYS)),
        ("input", _first(properties, INPUT_KEYS)),
        ("message", _first(properties, MESSAGE_KEYS)),
        ("error", _first(properties, ERROR_KEYS)),
    )
    parts += [f"{label}: {value}" for label, value in labelled if value is not None]
    if len(parts) == 1:
        known = {*TOOL_KEYS, *INPUT_KEYS, *MESSAGE_KEYS, *ERROR_KEYS, *MODEL_KEYS, "level"}
        rest = [
            f"{key}={_render(value)[:200]}"
            for key, value in sorted(properties.items())
            if key not in known and isinstance(value, str | int | float | bool)
        ]
        if rest:
            parts.append(" ".join(rest))
    model = _first(properties, MODEL_KEYS)
    if model is not None:
        parts.append(f"model: {model}")
    return " | ".join(parts)[: max_tokens * _CHARS_PER_TOKEN]
