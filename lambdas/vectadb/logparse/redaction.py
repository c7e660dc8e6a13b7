"""Redaction of secrets before anything leaves the parser. Agents log secrets.

The parser redacts each raw line once, before taking it apart, so every value it extracts is
clean. A rule runs only on text that holds one of its trigger words (one pass over the lower-cased
text finds them; most log lines hold no secret at all). A value after a key that names a secret
(``"password": ...``, ``api_key=...``, ``Authorization: Basic ...``) is replaced, key kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_KEYED = r"[\"']?\s*[:=]\s*[\"']?"
_SCHEME = r"(?:(?:basic|bearer|digest|token)\s+)?"


@dataclass(frozen=True)
class RedactionRule:
    """``pattern`` is replaced by ``[REDACTED:<name>]``; text matched by ``keep`` at its start stays.
    With ``triggers`` (words), the rule runs only on text holding one of them; with a ``gate`` (a
    regex), only where it is found. Every match of ``pattern`` must contain a trigger and the
    gate's match. Both are written in the pattern's case: they are looked for in the text as is,
    or lower-cased when the pattern ignores case."""

    name: str
    pattern: str
    keep: str | None = None
    triggers: tuple[str, ...] = ()
    gate: str | None = None


BUILTIN_RULES: tuple[RedactionRule, ...] = (
    RedactionRule(
        "aws_access_key",
        r"\b(?:AKIA|ASIA|AIDA|AROA|ANPA|ANVA|AGPA)[A-Z0-9]{16}\b",
        gate=r"A(?:KIA|SIA|IDA|ROA|NPA|NVA|GPA)",  # an upper-case literal first: a fast scan
    ),
    RedactionRule(
        "aws_secret_key",
        rf"(?i)aws_secret_access_key{_KEYED}[A-Za-z0-9/+=]{{40}}",
        rf"(?i)aws_secret_access_key{_KEYED}",
        triggers=("aws_secret_access_key",),
    ),
    RedactionRule(
        "jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", triggers=("eyJ",)
    ),
    RedactionRule(
        "bearer_token", r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*", r"(?i)bearer\s+", triggers=("bearer",)
    ),
    RedactionRule(
        "api_key",
        r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{30,}"
        r"|AIza[0-9A-Za-z_-]{35}|vdb_[A-Za-z0-9_-]{40,})",
        triggers=("sk-", "xox", "gh", "AIza", "vdb_"),
        gate=r"sk-|xox|gh[pousr]_|AIza|vdb_",
    ),
    RedactionRule(
        "secret",
        r"(?i)\b(?:api[_-]?key|x-api-key|(?:access|auth|refresh|id)[_-]?token|token|client[_-]?secret|secret"
        r"|passw(?:or)?d|authorization|private[_-]?key)"
        # The value, with an auth scheme if any, unless an earlier rule has redacted it already.
        rf"{_KEYED}(?!{_SCHEME}\[REDACTED){_SCHEME}[^\s\"',;{{}}]{{4,}}",
        rf"(?i)[\w-]+{_KEYED}",
        triggers=("key", "token", "secret", "passw", "authorization"),
        # Every match ends its key with one of the words and a separator: words alone fire on most
        # agent records ("prompt_tokens", "KeyError") for nothing.
        gate=r"(?:key|token|secret|passw(?:or)?d|authorization)[\"']?\s*[:=]",
    ),
    RedactionRule("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b", triggers=("@",)),
)


class _Compiled:
    def __init__(self, rule: RedactionRule) -> None:
        self.name = rule.name
        self.regex = re.compile(rule.pattern)
        self.keep = re.compile(rule.keep) if rule.keep else None
        self.ignores_case = bool(self.regex.flags & re.IGNORECASE)
        self.triggers = rule.triggers
        self.gate = re.compile(rule.gate) if rule.gate else None


class Redactor:
    def __init__(self, extra: Iterable[RedactionRule] = ()) -> None:
        self._rules = [_Compiled(rule) for rule in (*BUILTIN_RULES, *extra)]
        self._words_lower = tuple(
            (w, rule) for rule in self._rules if rule.ignores_case for w in rule.triggers
        )
        self._words_as_is = tuple(
            (w, rule) for rule in self._rules if not rule.ignores_case for w in rule.triggers
        )
        self.count = 0

    def text(self, value: str) -> str:
        # One substring test per trigger word: most log lines hold none. (A regex alternation of
        # the words is several times slower in CPython: it stops at every common letter.)
        lowered = value.lower()
        triggered = {rule.name for word, rule in self._words_lower if word in lowered}
        triggered.update(rule.name for word, rule in self._words_as_is if word in value)
        for rule in self._rules:
            if rule.triggers and rule.name not in triggered:
                continue
            if rule.gate is not None and rule.gate.search(lowered if rule.ignores_case else value) is None:
                continue

            def replace(match: re.Match[str], rule: _Compiled = rule) -> str:
                self.count += 1
                kept = rule.keep.match(match.group(0)) if rule.keep is not None else None
                return (kept.group(0) if kept else "") + f"[REDACTED:{rule.name}]"

            value = rule.regex.sub(replace, value)
        return value
