"""The deployment's configuration: typed, validated, from cdk.json context or a YAML/JSON file.

    cdk deploy                                  # the "vectadb" object of cdk.json's context
    cdk deploy -c vectadb_config=my-config.yaml  # or a file, with the same shape

An invalid configuration stops the synthesis with every problem listed by its path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, NamedTuple

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


class ReservedConcurrency(_Model):
    """Lambda reserved concurrency, off by default.

    Lambda keeps at least 100 of the account's concurrency unreserved (all of it while the account
    still has the new-account quota of 10), so any reservation fails the deployment of an account
    whose quota was not raised: a first deployment must not need one.
    """

    ingest: int | None = Field(
        default=None, ge=1, description="Caps the ingestion function, protecting the single storage host"
    )
    redrive: int | None = Field(
        default=None, ge=1, description="1 serialises the replays (scheduled and by hand)"
    )


class Functions(_Model):
    ingest: FunctionSize = FunctionSize(memory_mb=3008, timeout_s=29)  # 29 s: API Gateway's limit
    authorizer: FunctionSize = FunctionSize(memory_mb=256, timeout_s=10)
    parser: FunctionSize = FunctionSize(memory_mb=512, timeout_s=300)
    redrive: FunctionSize = FunctionSize(memory_mb=512, timeout_s=600)
    reindex: FunctionSize = FunctionSize(memory_mb=3008, timeout_s=900)
    retention: FunctionSize = FunctionSize(memory_mb=1024, timeout_s=900)
    reserved_concurrency: ReservedConcurrency = ReservedConcurrency()


class Embedding(_Model):
    model_dir: Path = Field(
        default=Path("build/layers/model"), description="The model layer (made by make layers)"
    )
    model: str | None = Field(default=None, description="When set, the layer must hold this model")

    @field_validator("model_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path if path.is_absolute() else ROOT / path


# The two store tasks (infra/storage.py reserves these for each).
STORE_TASKS = 2
STORE_TASK_CPU = 1024  # CPU units: one vCPU
STORE_TASK_MEMORY_MIB = 1536
# The OS, Docker and the ECS agent; ECS registers less memory than the instance has.
HOST_OVERHEAD_MIB = 1024
HOST_MIN_MEMORY_MIB = STORE_TASKS * STORE_TASK_MEMORY_MIB + HOST_OVERHEAD_MIB
# Every awsvpc task takes a network interface of its own, besides the host's primary one.
HOST_MIN_ENIS = 1 + STORE_TASKS


class InstanceType(NamedTuple):
    vcpus: int
    memory_mib: int
    max_enis: int


def _family(name: str, memory_gib_per_vcpu: int) -> dict[str, InstanceType]:
    # large, xlarge, 2xlarge, 4xlarge: 2, 4, 8, 16 vCPUs and 3, 4, 4, 8 network interfaces in
    # every family below.
    sizes = {"large": (2, 3), "xlarge": (4, 4), "2xlarge": (8, 4), "4xlarge": (16, 8)}
    return {
        f"{name}.{size}": InstanceType(vcpus, vcpus * memory_gib_per_vcpu * 1024, enis)
        for size, (vcpus, enis) in sizes.items()
    }


# The storage host's instance types: x86_64 (the ECS-optimized AMI is the x86_64 one) and Nitro
# (the host finds the data volume by its NVMe name, which Xen types such as t2, m4, c4 and r4 do
# not have). vCPUs, memory and "maximum network interfaces" are from the EC2 instance-type docs
# (https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html, co.html and mo.html, the
# "Network specifications" tables). Small sizes are listed so that the refusal can say why.
# Unknown types are refused rather than accepted with a warning: a type that cannot place both
# tasks leaves the ECS services, and so the stack, waiting for hours before CloudFormation gives
# up, while adding a row here from those tables takes a minute.
INSTANCE_TYPES: dict[str, InstanceType] = {
    **{
        f"{family}.{size}": InstanceType(vcpus, memory_mib, enis)
        for family in ("t3", "t3a")
        for size, (vcpus, memory_mib, enis) in {
            "nano": (2, 512, 2),
            "micro": (2, 1024, 2),
            "small": (2, 2048, 3),
            "medium": (2, 4096, 3),
            "large": (2, 8192, 3),
            "xlarge": (4, 16384, 4),
            "2xlarge": (8, 32768, 4),
        }.items()
    },
    **{k: v for f in ("m5", "m5a", "m6i", "m6a", "m7i", "m7a") for k, v in _family(f, 4).items()},
    **{k: v for f in ("c5", "c5a", "c6i", "c6a", "c7i", "c7a") for k, v in _family(f, 2).items()},
    **{k: v for f in ("r5", "r5a", "r6i", "r6a", "r7i", "r7a") for k, v in _family(f, 8).items()},
}
# Graviton families (t4g, m6g, c7gn, r8g, ...) and a1: arm64, which the x86_64 AMI cannot boot.
_GRAVITON = re.compile(r"^(a1|[a-z]+\d+g[a-z]*)\.")


def _host_problems(spec: InstanceType) -> list[str]:
    problems = []
    if spec.memory_mib < HOST_MIN_MEMORY_MIB:
        problems.append(
            f"{spec.memory_mib} MiB of memory, under the {HOST_MIN_MEMORY_MIB} MiB needed "
            f"({STORE_TASKS} tasks of {STORE_TASK_MEMORY_MIB} MiB and {HOST_OVERHEAD_MIB} MiB for the host)"
        )
    if spec.vcpus * 1024 < STORE_TASKS * STORE_TASK_CPU:
        needed = STORE_TASKS * STORE_TASK_CPU // 1024
        problems.append(f"{spec.vcpus} vCPUs, under the {needed} the tasks reserve")
    if spec.max_enis < HOST_MIN_ENIS:
        problems.append(
            f"{spec.max_enis} network interfaces, under the {HOST_MIN_ENIS} needed (the host's and one "
            "per awsvpc task)"
        )
    return problems


def _check_instance_type(name: str) -> str:
    if _GRAVITON.match(name):
        raise ValueError(
            f"{name!r} is a Graviton (arm64) type; the storage host runs the x86_64 ECS-optimized "
            "AMI: choose an x86_64 type, e.g. t3.medium"
        )
    spec = INSTANCE_TYPES.get(name)
    if spec is None:
        families = sorted({k.split(".")[0] for k in INSTANCE_TYPES} - {"t3", "t3a"})
        raise ValueError(
            f"{name!r} is not a known storage host type; accepted: t3 and t3a medium to 2xlarge, "
            f"and large to 4xlarge of {', '.join(families)} (another x86_64 Nitro type: add a row "
            "to INSTANCE_TYPES in infra/config.py)"
        )
    problems = _host_problems(spec)
    if problems:
        raise ValueError(
            f"{name!r} has {' and '.join(problems)}: the store tasks could never be placed; "
            "choose t3.medium or larger"
        )
    return name


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

    @field_validator("instance_type")
    @classmethod
    def _host_type(cls, name: str) -> str:
        return _check_instance_type(name)

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


RESERVED_PREFIXES = ("aws", "ecs", "fargate")


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

    @model_validator(mode="after")
    def _capacity_provider_name(self) -> DeployConfig:
        # CloudFormation names the ECS capacity provider "<stack_name>-<logical id>-<suffix>", and ECS
        # refuses a name that starts with aws, ecs or fargate in any case (CDK checks lower case only).
        reserved = [p for p in RESERVED_PREFIXES if self.stack_name.lower().startswith(p)]
        if self.storage.mode == "ecs" and reserved:
            raise ValueError(
                f"stack_name {self.stack_name!r} starts with {self.stack_name[: len(reserved[0])]!r}: "
                "ECS refuses the capacity provider's name, which starts with the stack name, when it "
                "starts with aws, ecs or fargate in any case; choose another stack_name"
            )
        return self

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
