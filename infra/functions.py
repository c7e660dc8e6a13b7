"""Lambda functions the way every VectaDB function is built.

One code asset (``lambdas/``, staged once: CDK caches it by path) for all of them, Python 3.12
on x86_64 (what ``layers/build.py`` targets), an explicit log group with a retention, a role of
its own that holds only what the function is granted, X-Ray tracing and Powertools configured by environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import ROOT, FunctionSize
from infra.nag import acknowledge

# vectadb/local is the local server, feed and command lines: never in a function's code asset.
CODE_EXCLUDE = [
    "**/__pycache__",
    "**/*.pyc",
    "parser/demo",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "vectadb/local",
]
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


@dataclass(frozen=True)
class Layers:
    base: lambda_.ILayerVersion
    full: lambda_.ILayerVersion
    model: lambda_.ILayerVersion


class LayerSet(Construct):
    """The three layers made by ``make layers`` (see ``layers/build.py``)."""

    def __init__(self, scope: Construct, construct_id: str, *, layers_dir: Path, model_dir: Path) -> None:
        super().__init__(scope, construct_id)
        runtimes = [lambda_.Runtime.PYTHON_3_12]
        arch = [lambda_.Architecture.X86_64]

        def layer(name: str, path: Path, description: str) -> lambda_.LayerVersion:
            return lambda_.LayerVersion(
                self,
                name,
                code=lambda_.Code.from_asset(str(path)),
                compatible_runtimes=runtimes,
                compatible_architectures=arch,
                description=description,
            )

        self.layers = Layers(
            base=layer("Base", layers_dir / "base", "VectaDB: Powertools, pydantic, SurrealDB SDK"),
            full=layer("Full", layers_dir / "full", "VectaDB: base + fastembed + qdrant-client"),
            model=layer("Model", model_dir, "VectaDB: the embedding model (/opt/model)"),
        )


class VectaFunction(Construct):
    """A function of the shared code asset, with its own role and log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        size: FunctionSize,
        layers: list[lambda_.ILayerVersion],
        environment: dict[str, str],
        vpc: ec2.IVpc | None = None,
        security_groups: list[ec2.ISecurityGroup] | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=LOG_RETENTION,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"VectaDB {construct_id}: only what this function is granted",
        )
        self.log_group.grant_write(self.role)
        if vpc is not None:
            # What Lambda does with the function's network interfaces (no resource-level scope).
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            code=lambda_.Code.from_asset(str(ROOT / "lambdas"), exclude=CODE_EXCLUDE),
            handler=handler,
            description=description,
            memory_size=size.memory_mb,
            timeout=cdk.Duration.seconds(size.timeout_s),
            layers=layers,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            tracing=lambda_.Tracing.ACTIVE,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS) if vpc else None,
            security_groups=security_groups,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "POWERTOOLS_METRICS_NAMESPACE": "VectaDB",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        acknowledge(
            self.function,
            "L1",
            "Python 3.12 on purpose: the layers are built and byte-compiled for 3.12 (layers/build.py)",
        )
        acknowledge(
            self.role,
            "IAM5[Resource::*]",
            "X-Ray's PutTraceSegments/PutTelemetryRecords and Lambda's VPC network-interface actions "
            "have no resource-level permissions",
        )
