"""Regex rules with named groups, loaded from YAML and checked when they load.

    rules:
      - name: seed_tool_line
        pattern: '^\\[(?P<timestamp>[^\\]]+)\\]\\s*Tool:\\s*(?P<tool>\\S+)\\s*\\|\\s*Input:\\s*(?P<input>.*)$'
        event_type: tool_call
        contains: "Tool:"          # optional: skip the regex unless this text is in the line
        flags: [ignorecase]        # optional: ignorecase, multiline, dotall
        properties:                # optional: group -> property name
          tool: tool_name
          input: tool_input
        tool_calls: false          # optional: the line holds tool-call objects, one event each
    include: ['...']               # optional: only lines matching one of these
    exclude: ['...']               # optional: never lines matching one of these (wins over include)
    redact:                        # optional: more secrets to redact
      - name: customer_number
        pattern: 'CUST-\\d{8}'
    extends_defaults: true         # optional: try the shipped rules after these (default true)

Groups named ``timestamp``, ``level``, ``session_id``, ``agent_id``, ``request_id`` and
``message`` fill those fields; every other group becomes a property (renamed by ``properties``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vectadb.logparse.redaction import RedactionRule

_FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}
FIELD_GROUPS = frozenset({"timestamp", "level", "session_id", "agent_id", "request_id", "message"})


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the bad rule."""


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    pattern: str = Field(min_length=1)
    event_type: str = Field(pattern=r"^[A-Za-z0-9_.:/\-]{1,128}$")
    contains: str | None = None
    flags: list[str] = Field(default_factory=list)
    properties: dict[str, str] = Field(default_factory=dict)
    # The matched text holds LangChain tool-call objects ({'name', 'args', 'id', 'type':
    # 'tool_call'}, as JSON or as Python prints them): each becomes a tool_call event of its own.
    tool_calls: bool = False

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, flags: list[str]) -> list[str]:
        unknown = [f for f in flags if f not in _FLAGS]
        if unknown:
            raise ValueError(f"unknown flags {unknown}; use {sorted(_FLAGS)}")
        return flags


class _RedactSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    pattern: str = Field(min_length=1)


class _FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[_RuleSpec] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    redact: list[_RedactSpec] = Field(default_factory=list)
    extends_defaults: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    regex: re.Pattern[str]
    event_type: str
    contains: str | None
    properties: dict[str, str]
    tool_calls: bool = False

    def match(self, text: str) -> re.Match[str] | None:
        if self.contains is not None and self.contains not in text:
            return None
        return self.regex.search(text)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    redact: tuple[RedactionRule, ...] = ()
    source: str = "defaults"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)

    def first_match(self, text: str) -> tuple[Rule, re.Match[str]] | None:
        for rule in self.rules:  # hot: the prefilter is inlined
            contains = rule.contains
            if contains is not None and contains not in text:
                continue
            found = rule.regex.search(text)
            if found is not None:
                return rule, found
        return None

    def admits(self, line: str) -> bool:
        """Exclude wins over include; no include list admits everything."""
        if not self.exclude and not self.include:
            return True
        if any(p.search(line) for p in self.exclude):
            return False
        return not self.include or any(p.search(line) for p in self.include)


def _compile(pattern: str, flags: int, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise RulesError(f"{where}: the pattern does not compile: {exc}") from None


def _build(spec: _FileSpec, source: str, base: RuleSet | None) -> RuleSet:
    rules = []
    for index, rule in enumerate(spec.rules):
        where = f"{source}: rule '{rule.name}' (#{index + 1})"
        flags = 0
        for flag in rule.flags:
            flags |= _FLAGS[flag]
        regex = _compile(rule.pattern, flags, where)
        unknown = set(rule.properties) - set(regex.groupindex)
        if unknown:
            raise RulesError(
                f"{where}: properties map groups that the pattern does not have: {sorted(unknown)}"
            )
        rules.append(
            Rule(rule.name, regex, rule.event_type, rule.contains, dict(rule.properties), rule.tool_calls)
        )
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RulesError(f"{source}: rule names must be unique, repeated: {duplicates}")
    include = tuple(_compile(p, 0, f"{source}: include pattern {p!r}") for p in spec.include)
    exclude = tuple(_compile(p, 0, f"{source}: exclude pattern {p!r}") for p in spec.exclude)
    redact = []
    for item in spec.redact:
        _compile(item.pattern, 0, f"{source}: redact rule '{item.name}'")
        redact.append(RedactionRule(item.name, item.pattern))
    if base is not None and spec.extends_defaults:
        rules += list(base.rules)
        include += base.include
        exclude += base.exclude
        redact = [*redact, *base.redact]
    return RuleSet(tuple(rules), include, exclude, tuple(redact), source)


def parse_rules(text: str, source: str, base: RuleSet | None = None) -> RuleSet:
    try:
        data: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RulesError(f"{source}: expected a mapping with a 'rules' list")
    try:
        spec = _FileSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        where = source
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            raw_rules = data.get("rules") or []
            raw = raw_rules[loc[1]] if loc[1] < len(raw_rules) else {}
            name = raw.get("name", "?") if isinstance(raw, dict) else "?"
            where += f": rule '{name}' (#{loc[1] + 1})"
            loc = loc[2:]
        field_name = ".".join(str(part) for part in loc) or "value"
        raise RulesError(f"{where}: {field_name}: {first['msg']}") from None
    return _build(spec, source, base)


def default_rules() -> RuleSet:
    text = resources.files("vectadb.logparse").joinpath("default_rules.yaml").read_text()
    return parse_rules(text, "default_rules.yaml")


def load_rules(text: str | None, source: str) -> RuleSet:
    """The shipped defaults, or ``text`` (YAML) in front of them unless it says otherwise."""
    defaults = default_rules()
    return defaults if text is None else parse_rules(text, source, defaults)
