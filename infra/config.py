"""The deployment's configuration: typed, validated, from cdk.json context or a YAML/JSON file.

    cdk deploy                                  # the "vectadb" object of cdk.json's context
    cdk deploy -c vectadb_config=my-config.yaml  # or a file, with the same shape

An invalid configuration stops the synthesis with every problem listed by its path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ROOT = Path(__file__).resolve().parents[1]
_LOG_GROUP = re.compile(r"^[\w\-./#]{1,512}$")


class ConfigError(ValueError):
    pass


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogGroups(_Model):
    names: list[str] = Field(default_factory=list, description="Log groups to subscribe, by name")
    prefixes: list[str] = Field(
        default_factory=list, description="Every log group under these, found at deploy"
    )
    filter_pattern: str = Field(default="", description="CloudWatch Logs filter pattern; empty: every line")

    @field_validator("names", "prefixes")
    @classmethod
    def _valid_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _LOG_GROUP.match(value):
                raise ValueError(f"{value!r} is not a log group name")
        return values


class FunctionSize(_Model):
    memory_mb: int = Field(ge=128, le=10240)
    timeout_s: int = Field(ge=1, le=900)


class Functions(_Model):
    ingest: FunctionSize = FunctionSize(memory_mb=3008, timeout_s=29)  # 29 s: API Gateway's limit
    authorizer: FunctionSize = FunctionSize(memory_mb=256, timeout_s=10)
    parser: FunctionSize = FunctionSize(memory_mb=512, timeout_s=300)
    redrive: FunctionSize = FunctionSize(memory_mb=512, timeout_s=600)
    reindex: FunctionSize = FunctionSize(memory_mb=3008, timeout_s=900)
    retention: FunctionSize = FunctionSize(memory_mb=1024, timeout_s=900)


class Embedding(_Model):
    model_dir: Path = Field(
        default=Path("build/layers/model"), description="The model layer (made by make layers)"
    )
    model: str | None = Field(default=None, description="When set, the layer must hold this model")

    @field_validator("model_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path if path.is_absolute() else ROOT / path


class Storage(_Model):
    mode: Literal["ecs", "external"] = "ecs"
    # ECS: SurrealDB and Qdrant on one EC2 host with a persistent EBS volume.
    instance_type: str = "t3.medium"
    data_volume_gib: int = Field(default=50, ge=10, le=16384)
    surrealdb_image: str = "surrealdb/surrealdb:v2.3.10"
    qdrant_image: str = "qdrant/qdrant:v1.16.3"
    # External: managed or clustered stores (the scale path).
    surreal_url: str | None = None
    surreal_secret_arn: str | None = Field(default=None, description='A secret {"username", "password"}')
    qdrant_url: str | None = None
    qdrant_api_key_secret_arn: str | None = None

    @field_validator("surrealdb_image", "qdrant_image")
    @classmethod
    def _pinned(cls, image: str) -> str:
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
        if not tag or tag == "latest":
            raise ValueError(f"{image!r}: pin an image tag (not 'latest')")
        return image

    @model_validator(mode="after")
    def _external_needs_endpoints(self) -> Storage:
        if self.mode == "external":
            missing = [
                name
                for name in ("surreal_url", "surreal_secret_arn", "qdrant_url", "qdrant_api_key_secret_arn")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"mode 'external' needs {', '.join(missing)}")
            if not str(self.surreal_url).startswith(("wss://", "ws://", "https://", "http://")):
                raise ValueError("surreal_url must be a ws(s):// or http(s):// URL")
        return self


class Network(_Model):
    nat_gateways: int = Field(default=1, ge=1, le=3)
    interface_endpoints: bool = Field(
        default=False, description="Secrets Manager, SQS, CloudWatch Logs and X-Ray endpoints in the VPC"
    )


class Api(_Model):
    stage: str = Field(default="prod", pattern=r"^[A-Za-z0-9_]{1,64}$")
    rate_limit: float = Field(default=200, gt=0, description="Requests per second, per key (usage plan)")
    burst_limit: int = Field(default=400, gt=0)
    stage_rate_limit: float = Field(default=1000, gt=0, description="Requests per second for the whole stage")
    stage_burst_limit: int = Field(default=2000, gt=0)
    web_acl_arn: str | None = Field(default=None, description="A WAFv2 web ACL to attach")


class Schedules(_Model):
    redrive_minutes: int = Field(default=15, ge=1, le=1440)
    reindex_minutes: int = Field(default=60, ge=5, le=1440)
    retention_hours: int = Field(default=24, ge=1, le=168)
    # Prefixes are expanded at deploy and again on this schedule, so new log groups are followed.
    subscribe_minutes: int = Field(default=60, ge=5, le=1440)


class DeployConfig(_Model):
    stack_name: str = Field(default="VectaDb", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
    layers_dir: Path = Field(default=Path("build/layers"), description="Made by make layers")
    log_groups: LogGroups = LogGroups()
    parser_rules_file: Path | None = None
    retention_days: int = Field(default=30, ge=1, le=3650)
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    functions: Functions = Functions()
    embedding: Embedding = Embedding()
    storage: Storage = Storage()
    network: Network = Network()
    api: Api = Api()
    schedules: Schedules = Schedules()

    @field_validator("layers_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path if path.is_absolute() else ROOT / path

    @field_validator("parser_rules_file")
    @classmethod
    def _rules_exist(cls, path: Path | None) -> Path | None:
        if path is not None:
            resolved = path if path.is_absolute() else ROOT / path
            if not resolved.is_file():
                raise ValueError(f"no rules file at {path}")
            from vectadb.logparse.rules import RulesError, load_rules

            try:
                load_rules(resolved.read_text(), str(path))
            except RulesError as exc:
                raise ValueError(str(exc)) from None
            return resolved
        return path


def parse_config(data: dict[str, Any]) -> DeployConfig:
    try:
        return DeployConfig.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(
            f"  vectadb.{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"the deployment configuration is invalid:\n{problems}") from None


def load_config(context: Any) -> DeployConfig:
    """From ``-c vectadb_config=<file>`` when given, else from the ``vectadb`` context object."""
    path = context("vectadb_config")
    if path:
        file = Path(path)
        text = file.read_text()
        data = yaml.safe_load(text) if file.suffix in (".yaml", ".yml") else json.loads(text)
        return parse_config(data.get("vectadb", data) if isinstance(data, dict) else {})
    data = context("vectadb") or {}
    if isinstance(data, str):
        data = json.loads(data)
    return parse_config(data)
