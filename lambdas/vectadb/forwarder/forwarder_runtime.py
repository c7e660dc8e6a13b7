"""What the parser and redrive functions build once per container."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectadb.core.config import ParserSettings
from vectadb.core.errors import VectaError
from vectadb.core.observability import deadline_after
from vectadb.forwarder.client import ApiClient, RetryPolicy
from vectadb.forwarder.deadletters import DeadLetters
from vectadb.logparse.parser import LogParser, ParserOptions
from vectadb.logparse.rules import RuleSet, load_rules

logger = logging.getLogger(__name__)


class ConfigurationError(VectaError):
    code = "configuration_error"


def rules_from(setting: str | None) -> RuleSet:
    """The shipped rules, or a YAML file / SSM parameter in front of them.

    Raises RulesError, whose message names the bad rule.
    """
    if not setting:
        return load_rules(None, "defaults")
    path = Path(setting)
    if not setting.startswith("ssm:") and (path.suffix in (".yaml", ".yml") or path.is_file()):
        if not path.is_file():
            raise ConfigurationError(f"VECTADB_PARSER_RULES: no file at {setting}")
        return load_rules(path.read_text(), str(path))
    from aws_lambda_powertools.utilities import parameters

    name = setting.removeprefix("ssm:")
    return load_rules(parameters.get_parameter(name, max_age=300), f"ssm:{name}")


def api_key_provider(settings: ParserSettings) -> Callable[[bool], str]:
    """A callable giving the key; ``True`` asks for a fresh copy of a secret (after a 401)."""
    if settings.api_key is not None:
        key = settings.api_key.get_secret_value()
        return lambda refresh: key
    if settings.api_key_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        arn = settings.api_key_secret_arn

        def from_secret(refresh: bool) -> str:
            value = parameters.get_secret(arn, max_age=settings.secret_max_age_seconds, force_fetch=refresh)
            if isinstance(value, bytes):
                value = value.decode()
            text = str(value).strip()
            if text.startswith("{"):  # {"api_key": "..."}
                return str(json.loads(text)["api_key"])
            return text

        return from_secret
    raise ConfigurationError("set VECTADB_API_KEY (local) or VECTADB_API_KEY_SECRET_ARN")


@dataclass
class ForwarderRuntime:
    settings: ParserSettings
    parser: LogParser
    client: ApiClient
    dead_letters: DeadLetters
    sqs: Any

    def deadline(self, remaining_ms: int) -> float:
        """When sending must stop (monotonic), keeping time back to park what is left."""
        return deadline_after(remaining_ms, self.settings.deadline_reserve_seconds)

    @classmethod
    def from_settings(cls, settings: ParserSettings, sqs: Any = None) -> ForwarderRuntime:
        if not settings.api_url:
            raise ConfigurationError("set VECTADB_API_URL to the ingestion API")
        rules = rules_from(settings.parser_rules)
        logger.info("parser rules: %d from %s", len(rules.rules), rules.source)
        if sqs is None and settings.dlq_url:
            import boto3

            sqs = boto3.client("sqs")
        client = ApiClient(
            settings.api_url,
            api_key_provider(settings),
            policy=RetryPolicy(
                base_seconds=settings.retry_base_seconds,
                cap_seconds=settings.retry_cap_seconds,
                connect_timeout=settings.http_connect_timeout,
                read_timeout=settings.http_read_timeout,
            ),
        )
        return cls(
            settings=settings,
            parser=LogParser(
                rules,
                ParserOptions(
                    drop_start_end=settings.drop_start_end,
                    session_from_log_stream=settings.session_from_log_stream,
                ),
            ),
            client=client,
            dead_letters=DeadLetters(sqs, settings.dlq_url, settings.dlq_max_message_bytes),
            sqs=sqs,
        )


_runtime: ForwarderRuntime | None = None


def get_forwarder_runtime() -> ForwarderRuntime:
    """Built on the first invocation of a container; a bad rules file fails it with the rule's name."""
    global _runtime
    if _runtime is None:
        from vectadb.core.config import get_parser_settings

        _runtime = ForwarderRuntime.from_settings(get_parser_settings())
    return _runtime


def set_forwarder_runtime(runtime: ForwarderRuntime | None) -> ForwarderRuntime | None:
    global _runtime
    previous, _runtime = _runtime, runtime
    return previous
