"""The log pipeline: subscription filters -> parser -> API, with the dead-letter queue and redrive.

- Log groups named in the config get a subscription filter each, from this stack. Prefixes are
  expanded by a custom resource at deploy, and again on a schedule so that log groups created
  later are followed (VectaDB's own log groups are never subscribed).
- CloudWatch Logs may invoke the parser through ONE resource-policy statement, conditioned on
  this account and its log groups' ARN pattern: the policy never grows with the number of log
  groups (Lambda's 20 KB policy limit is a known failure of per-group permissions).
- Asynchronous invocations are retried twice; a delivery that still fails (or gets too old) lands
  in the DLQ as a Lambda destination record, which the redrive function parses and replays.
- The parser's API key is made at deploy into a secret that only the parser and redrive read.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import DeployConfig
from infra.functions import LOG_RETENTION, Layers, VectaFunction
from infra.nag import acknowledge, logical_id

ASYNC_RETRIES = 2
MAX_EVENT_AGE = cdk.Duration.hours(6)
DLQ_RETENTION = cdk.Duration.days(14)
SSM_STANDARD_LIMIT = 4096
SSM_ADVANCED_LIMIT = 8192


class LogPipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        layers: Layers,
        api_url: str,
        key_table: dynamodb.ITableV2,
        usage_plan: apigw.UsagePlan,
        exclude_log_groups: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.filter_name = f"{config.stack_name}-vectadb"

        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            max_message_size_bytes=1024 * 1024,
            visibility_timeout=cdk.Duration.seconds(config.functions.redrive.timeout_s),
        )
        self.api_key_secret = secretsmanager.Secret(
            self,
            "ParserApiKey",
            description="VectaDB: the parser's API key (written at deploy by the ServiceKey resource)",
        )
        acknowledge(
            self.dead_letters,
            "SQS3",
            "This queue is the dead-letter queue (a Lambda on-failure destination, and the parser's "
            "own); the redrive function keeps what it cannot deliver",
        )
        acknowledge(
            self.api_key_secret,
            "SMG4",
            "An API key, not a password: replace it by hand (docs/operations.md) and the parser rereads the "
            "secret after a 401",
        )
        environment = {
            "VECTADB_API_URL": api_url,
            "VECTADB_API_KEY_SECRET_ARN": self.api_key_secret.secret_arn,
            "VECTADB_DLQ_URL": self.dead_letters.queue_url,
        }
        rules = self._rules_parameter(config)
        if rules is not None:
            environment["VECTADB_PARSER_RULES"] = f"ssm:{rules.parameter_name}"

        self.parser = VectaFunction(
            self,
            "Parser",
            handler="parser.handler.handler",
            description="VectaDB: CloudWatch Logs subscription deliveries -> agent events -> API",
            size=config.functions.parser,
            layers=[layers.base],
            environment=environment,
        )
        self.redrive = VectaFunction(
            self,
            "Redrive",
            handler="redrive.handler.handler",
            description="VectaDB: replay the dead-letter queue (scheduled, or invoke it)",
            size=config.functions.redrive,
            layers=[layers.base],
            environment=environment,
            reserved_concurrency=config.functions.reserved_concurrency.redrive,
        )
        for fn in (self.parser, self.redrive):
            self.api_key_secret.grant_read(fn.role)
            self.dead_letters.grant_send_messages(fn.role)
            if rules is not None:
                rules.grant_read(fn.role)
        self.dead_letters.grant_consume_messages(self.redrive.role)

        self.parser.function.configure_async_invoke(
            retry_attempts=ASYNC_RETRIES,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        events.Rule(
            self,
            "RedriveSchedule",
            description="VectaDB: replay the dead-letter queue",
            schedule=events.Schedule.rate(cdk.Duration.minutes(config.schedules.redrive_minutes)),
            targets=[targets.LambdaFunction(self.redrive.function, retry_attempts=0)],
        )

        # One statement for every log group of this account and region.
        self.invoke_permission = lambda_.CfnPermission(
            self,
            "LogsInvoke",
            action="lambda:InvokeFunction",
            function_name=self.parser.function.function_arn,
            principal="logs.amazonaws.com",
            source_account=stack.account,
            source_arn=f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*",
        )
        self.subscription_filters: list[logs.CfnSubscriptionFilter] = []
        for index, name in enumerate(config.log_groups.names):
            subscription = logs.CfnSubscriptionFilter(
                self,
                f"Subscription{index}",
                log_group_name=name,
                filter_name=self.filter_name,
                filter_pattern=config.log_groups.filter_pattern,
                destination_arn=self.parser.function.function_arn,
            )
            subscription.add_resource_dependency(self.invoke_permission)
            self.subscription_filters.append(subscription)

        self._service_key(config, layers, key_table, usage_plan)
        self.prefix_subscriptions: cdk.CustomResource | None = None
        if config.log_groups.prefixes:
            self._prefix_subscriptions(config, layers, exclude_log_groups)

    def _rules_parameter(self, config: DeployConfig) -> ssm.StringParameter | None:
        if config.parser_rules_file is None:
            return None
        text = config.parser_rules_file.read_text()
        size = len(text.encode())
        if size > SSM_ADVANCED_LIMIT:
            raise ValueError(
                f"{config.parser_rules_file}: {size} bytes; an SSM parameter holds at most "
                f"{SSM_ADVANCED_LIMIT}. Trim the rules file."
            )
        return ssm.StringParameter(
            self,
            "ParserRules",
            description="VectaDB: the parser's regex rules (YAML); edits apply within 5 minutes",
            string_value=text,
            tier=ssm.ParameterTier.ADVANCED if size > SSM_STANDARD_LIMIT else ssm.ParameterTier.STANDARD,
        )

    def _deploy_function(
        self, name: str, package: str, description: str, config: DeployConfig, layers: Layers, timeout_s: int
    ) -> VectaFunction:
        """A small function that runs at deploy (a custom resource) or on a schedule."""
        return VectaFunction(
            self,
            name,
            handler=f"{package}.handler.handler",
            description=description,
            size=config.functions.authorizer.model_copy(update={"timeout_s": timeout_s}),
            layers=[layers.base],
            environment={},
        )

    def _provider(self, name: str, on_event: VectaFunction) -> cr.Provider:
        """The CDK provider framework for a custom resource, logging to a group with a retention."""
        log_group = logs.LogGroup(
            self, f"{name}Logs", retention=LOG_RETENTION, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        provider = cr.Provider(self, name, on_event_handler=on_event.function, log_group=log_group)
        _acknowledge_provider(provider, on_event)
        return provider

    def _prefix_subscriptions(self, config: DeployConfig, layers: Layers, exclude: list[str]) -> None:
        stack = cdk.Stack.of(self)
        fn = self._deploy_function(
            "Subscriber",
            "subscriptions",
            "VectaDB: subscribe the log groups under the configured prefixes",
            config,
            layers,
            timeout_s=600,
        )
        fn.role.add_to_policy(
            iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=["*"])  # no resource scope
        )
        fn.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter"],
                resources=[
                    f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{prefix}*"
                    for prefix in config.log_groups.prefixes
                ],
            )
        )
        for prefix in config.log_groups.prefixes:
            acknowledge(
                fn.role,
                f"IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{prefix}*]",
                "Subscribing every log group under a configured prefix is the point of a prefix",
            )
        provider = self._provider("SubscriberProvider", fn)
        properties = {
            "Prefixes": list(config.log_groups.prefixes),
            "Exclude": [
                *exclude,
                self.parser.log_group.log_group_name,
                self.redrive.log_group.log_group_name,
                self.service_key_function.log_group.log_group_name,
                fn.log_group.log_group_name,
                f"/aws/lambda/{stack.stack_name}-",
            ],
            "FilterName": self.filter_name,
            "FilterPattern": config.log_groups.filter_pattern,
            "DestinationArn": self.parser.function.function_arn,
        }
        self.prefix_subscriptions = cdk.CustomResource(
            self,
            "PrefixSubscriptions",
            service_token=provider.service_token,
            resource_type="Custom::VectaDbSubscriptions",
            properties=properties,
        )
        self.prefix_subscriptions.node.add_dependency(self.invoke_permission)
        events.Rule(
            self,
            "SubscribeSchedule",
            description="VectaDB: subscribe log groups created under the prefixes since the last run",
            schedule=events.Schedule.rate(cdk.Duration.minutes(config.schedules.subscribe_minutes)),
            targets=[
                targets.LambdaFunction(
                    fn.function,
                    event=events.RuleTargetInput.from_object(
                        {"RequestType": "Sync", "ResourceProperties": properties}
                    ),
                    retry_attempts=0,
                )
            ],
        )

    def _service_key(
        self,
        config: DeployConfig,
        layers: Layers,
        key_table: dynamodb.ITableV2,
        usage_plan: apigw.UsagePlan,
    ) -> None:
        stack = cdk.Stack.of(self)
        usage_plan_id = usage_plan.usage_plan_id
        fn = self._deploy_function(
            "ServiceKeyMaker",
            "servicekey",
            "VectaDB: make the parser's API key at deploy",
            config,
            layers,
            timeout_s=60,
        )
        key_table.grant(fn.role, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan")
        apigw_arn = f"arn:{stack.partition}:apigateway:{stack.region}::"
        fn.role.add_to_policy(
            iam.PolicyStatement(
                actions=["apigateway:POST", "apigateway:DELETE"],
                resources=[
                    f"{apigw_arn}/apikeys",
                    f"{apigw_arn}/apikeys/*",
                    f"{apigw_arn}/usageplans/{usage_plan_id}/keys",
                    f"{apigw_arn}/usageplans/{usage_plan_id}/keys/*",
                ],
            )
        )
        self.service_key_function = fn
        self.api_key_secret.grant_write(fn.role)
        acknowledge(
            fn.role,
            "IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*]",
            "API Gateway key ids are made by CreateApiKey; the function deletes only its own",
        )
        acknowledge(
            fn.role,
            f"IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/usageplans/<{logical_id(usage_plan)}>/keys/*]",
            "Keys of this stack's usage plan only",
        )
        provider = self._provider("ServiceKeyProvider", fn)
        self.service_key = cdk.CustomResource(
            self,
            "ServiceKey",
            service_token=provider.service_token,
            resource_type="Custom::VectaDbServiceKey",
            properties={
                "Table": key_table.table_name,
                "UsagePlanId": usage_plan_id,
                "SecretArn": self.api_key_secret.secret_arn,
                "Description": f"{stack.stack_name} parser",
            },
        )


def _acknowledge_provider(provider: cr.Provider, on_event: VectaFunction) -> None:
    """The CDK provider framework's own function, which answers CloudFormation."""
    acknowledge(
        provider,
        "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "The CDK custom-resource provider framework's function; CDK defines its role",
    )
    acknowledge(
        provider,
        f"IAM5[Resource::<{logical_id(on_event.function)}.Arn>:*]",
        "The provider framework may invoke every version of our onEvent function",
    )
    acknowledge(provider, "L1", "The CDK provider framework picks its own runtime")
