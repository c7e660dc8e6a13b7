"""Redaction of secrets before anything leaves the parser. Agents log secrets.

One combined regular expression makes a single pass over each string. Values under keys that
name a secret (``password``, ``api_key``, ``authorization``, ...) are replaced whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_KEYED = r"[\"']?\s*[:=]\s*[\"']?"


@dataclass(frozen=True)
class RedactionRule:
    """``pattern`` is replaced by ``[REDACTED:<name>]``; text matched by ``keep`` at its start stays."""

    name: str
    pattern: str
    keep: str | None = None


BUILTIN_RULES: tuple[RedactionRule, ...] = (
    RedactionRule("aws_access_key", r"\b(?:AKIA|ASIA|AIDA|AROA|ANPA|ANVA|AGPA)[A-Z0-9]{16}\b"),
    RedactionRule(
        "aws_secret_key",
        rf"(?i)aws_secret_access_key{_KEYED}[A-Za-z0-9/+=]{{40}}",
        rf"(?i)aws_secret_access_key{_KEYED}",
    ),
    RedactionRule("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    RedactionRule("bearer_token", r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*", r"(?i)bearer\s+"),
    RedactionRule(
        "api_key",
        r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{30,}"
        r"|AIza[0-9A-Za-z_-]{35}|vdb_[A-Za-z0-9_-]{40,})",
    ),
    RedactionRule(
        "secret",
        r"(?i)\b(?:api[_-]?key|x-api-key|access[_-]?token|auth[_-]?token|client[_-]?secret|secret|passw(?:or)?d)"
        rf"{_KEYED}[^\s\"',;{{}}]{{4,}}",
        rf"(?i)[\w-]+{_KEYED}",
    ),
    RedactionRule("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
)
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "api_key",
        "apikey",
        "x-api-key",
        "authorization",
        "access_token",
        "auth_token",
        "token",
        "client_secret",
        "aws_secret_access_key",
        "private_key",
    }
)


def _scoped(pattern: str) -> str:
    """Inline flags apply to a whole expression in Python: scope each rule's own."""
    match = re.match(r"^\(\?([aiLmsux]+)\)", pattern)
    return f"(?{match.group(1)}:{pattern[match.end() :]})" if match else pattern


class Redactor:
    def __init__(self, extra: Iterable[RedactionRule] = ()) -> None:
        rules = [*BUILTIN_RULES, *extra]
        self._rules = rules
        self._keep = [re.compile(rule.keep) if rule.keep else None for rule in rules]
        self._regex = re.compile(
            "|".join(f"(?P<r{i}>{_scoped(rule.pattern)})" for i, rule in enumerate(rules))
        )
        self.count = 0

    def _replace(self, match: re.Match[str]) -> str:
        self.count += 1
        index = int(match.lastgroup[1:]) if match.lastgroup else 0
        keep = self._keep[index]
        kept = keep.match(match.group(0)) if keep is not None else None
        return (kept.group(0) if kept else "") + f"[REDACTED:{self._rules[index].name}]"

    def text(self, value: str) -> str:
        return self._regex.sub(self._replace, value)

    def value(self, value: Any) -> Any:
        """Strings anywhere inside ``value`` redacted; secret-named keys replaced whole."""
        if isinstance(value, str):
            return self._regex.sub(self._replace, value)
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if isinstance(key, str) and key.lower() in SECRET_KEYS and item not in (None, ""):
                    self.count += 1
                    out[key] = "[REDACTED:secret]"
                else:
                    out[key] = self.value(item)
            return out
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value
