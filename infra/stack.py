"""The one stack: network and storage (ECS mode), the API, the log pipeline, upkeep, monitoring."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.api import Api
from infra.config import DeployConfig
from infra.functions import LayerSet, VectaFunction
from infra.maintenance import Maintenance
from infra.monitoring import Monitoring
from infra.network import Network
from infra.pipeline import LogPipeline
from infra.storage import Storage

MODEL_MOUNT = "/opt/model"  # the model layer's model/ directory


class VectaDbStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        layers = LayerSet(self, "Layers", layers_dir=config.layers_dir, model_dir=config.embedding.model_dir)

        # Where the stores are, and how the functions that use them reach them.
        vpc: ec2.IVpc | None = None
        client_groups: list[ec2.ISecurityGroup] | None = None
        surreal_secret: secretsmanager.ISecret
        qdrant_secret: secretsmanager.ISecret
        self.storage: Storage | None = None
        if config.storage.mode == "ecs":
            self.network = Network(self, "Network", config=config.network)
            vpc = self.network.vpc
            self.storage = Storage(self, "Storage", config=config.storage, vpc=vpc)
            client_groups = [self.storage.client_security_group]
            surreal_url, qdrant_url = self.storage.surreal_url, self.storage.qdrant_url
            surreal_secret, qdrant_secret = self.storage.surreal_secret, self.storage.qdrant_secret
        else:
            surreal_url, qdrant_url = str(config.storage.surreal_url), str(config.storage.qdrant_url)
            surreal_secret = secretsmanager.Secret.from_secret_complete_arn(
                self, "SurrealSecret", str(config.storage.surreal_secret_arn)
            )
            qdrant_secret = secretsmanager.Secret.from_secret_complete_arn(
                self, "QdrantSecret", str(config.storage.qdrant_api_key_secret_arn)
            )
        store_env = {
            "VECTADB_SURREAL_URL": surreal_url,
            "VECTADB_SURREAL_SECRET_ARN": surreal_secret.secret_arn,
            "VECTADB_QDRANT_URL": qdrant_url,
            "VECTADB_QDRANT_API_KEY_SECRET_ARN": qdrant_secret.secret_arn,
            "VECTADB_MODEL_DIR": MODEL_MOUNT,
            "VECTADB_MODEL_CACHE_DIR": "/tmp/fastembed",  # noqa: S108 (Lambda's only writable place)
            "VECTADB_RETENTION_DAYS": str(config.retention_days),
        }
        if config.embedding.model:
            store_env["VECTADB_EMBEDDING_MODEL"] = config.embedding.model

        def store_function(
            name: str, handler: str, description: str, reserved_concurrency: int | None = None
        ) -> VectaFunction:
            fn = VectaFunction(
                self,
                name,
                handler=handler,
                description=description,
                size=getattr(config.functions, name.lower()),
                layers=[layers.layers.full, layers.layers.model],
                environment=store_env,
                vpc=vpc,
                security_groups=client_groups,
                reserved_concurrency=reserved_concurrency,
            )
            surreal_secret.grant_read(fn.role)
            qdrant_secret.grant_read(fn.role)
            return fn

        self.ingest = store_function(
            "Ingest",
            "ingest.handler.handler",
            "VectaDB: ingestion and query API",
            reserved_concurrency=config.functions.reserved_concurrency.ingest,
        )
        reindex = store_function("Reindex", "reindex.handler.handler", "VectaDB: embed unindexed events")
        retention = store_function("Retention", "retention.handler.handler", "VectaDB: delete expired events")

        self.api = Api(self, "Api", config=config, ingest=self.ingest.function, layers=layers.layers)
        own_log_groups = [
            fn.log_group.log_group_name
            for fn in (self.ingest, reindex, retention, self.api.authorizer_function)
        ]
        self.pipeline = LogPipeline(
            self,
            "LogPipeline",
            config=config,
            layers=layers.layers,
            api_url=self.api.url,
            key_table=self.api.key_table,
            usage_plan=self.api.usage_plan,
            exclude_log_groups=own_log_groups,
        )
        self.maintenance = Maintenance(
            self, "Maintenance", config=config, reindex=reindex, retention=retention
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            alarm_email=config.alarm_email,
            functions={
                "Ingest": self.ingest,
                "Authorizer": self.api.authorizer_function,
                "Parser": self.pipeline.parser,
                "Redrive": self.pipeline.redrive,
                "Reindex": reindex,
                "Retention": retention,
            },
            api=self.api.rest_api,
            dead_letters=self.pipeline.dead_letters,
            services=(
                {"SurrealDb": self.storage.surreal_service, "Qdrant": self.storage.qdrant_service}
                if self.storage
                else {}
            ),
        )

        for name, value, description in [
            ("ApiUrl", self.api.url, "The API (send Authorization: Bearer <key>)"),
            (
                "KeyTable",
                self.api.key_table.table_name,
                "python -m vectadb.local.keys create --table <this>",
            ),
            ("UsagePlanId", self.api.usage_plan.usage_plan_id, "... --usage-plan <this>"),
            ("DeadLetterQueueUrl", self.pipeline.dead_letters.queue_url, "Deliveries that failed"),
            ("RedriveFunction", self.pipeline.redrive.function.function_name, "Invoke it to replay now"),
            ("ParserFunctionArn", self.pipeline.parser.function.function_arn, "Subscription destination"),
            ("AlarmTopic", self.monitoring.topic.topic_arn, "Subscribe to get the alarms"),
            ("Dashboard", self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
        ]:
            cdk.CfnOutput(self, name, value=value, description=description)
