"""The REST API: every route of the ingestion Lambda, behind the TOKEN authorizer.

- Keys are kept as SHA-256 digests in a DynamoDB table (``python -m vectadb.local.keys``); the authorizer
  answers with the key's usage-plan key (``usageIdentifierKey``), so the usage plan throttles per
  key, on top of the stage's own limits. Authorizer decisions are cached for five minutes.
- Errors made by API Gateway itself (401, 403, 404 for unknown routes, 413, 429, 5xx) carry the
  same ``{"error": {"code", "message", "details"}}`` body as the handler's.
- POST bodies are checked against a minimal JSON schema before the function is invoked, so garbage
  never wakes the 3 GB ingestion function; the handler still validates everything and explains.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import DeployConfig
from infra.functions import Layers, VectaFunction
from infra.nag import acknowledge

AUTHORIZER_CACHE = cdk.Duration.minutes(5)
# A header that is not "Bearer <token>" gets API Gateway's 401 without invoking the authorizer (so
# it counts as no authorizer error). The scheme in any case, as the authorizer itself accepts it.
BEARER_HEADER = r"^[Bb][Ee][Aa][Rr][Ee][Rr] [^ ]+$"

# (path, method, body schema or None). Every route but /health needs a key.
ROUTES: list[tuple[str, str, dict | None]] = [
    ("/api/v1/openapi.json", "GET", None),
    ("/api/v1/events", "POST", {"type": "object"}),
    ("/api/v1/events", "GET", None),
    (
        "/api/v1/events/batch",
        "POST",
        {
            "type": "object",
            "required": ["events"],
            "properties": {"events": {"type": "array", "minItems": 1, "maxItems": 1000}},
        },
    ),
    ("/api/v1/events/{event_id}", "GET", None),
    ("/api/v1/events/{event_id}/similar", "GET", None),
    ("/api/v1/traces", "GET", None),
    ("/api/v1/traces/{trace_id}", "GET", None),
    (
        "/api/v1/search",
        "POST",
        {"type": "object", "required": ["query"], "properties": {"query": {"type": "string"}}},
    ),
    ("/api/v1/reindex", "POST", {"type": "object"}),
    ("/api/v1/stats", "GET", None),
]
# Public: the health check, and the console's files (the page asks for a key and sends it with every
# API call); lambdas/vectadb/api/routes.py says the same to the function and the local server.
PUBLIC_ROUTES = [("/health", "GET"), ("/", "GET"), ("/ui", "GET"), ("/ui/{proxy+}", "GET")]

# API Gateway's own errors, as (status, code, message). $context.error.messageString is a quoted
# JSON string; these templates are plain substitution, not VTL.
GATEWAY_ERRORS: dict[apigw.ResponseType, tuple[str, str, str]] = {
    apigw.ResponseType.UNAUTHORIZED: ("401", "unauthorized", '"send Authorization: Bearer <api key>"'),
    apigw.ResponseType.ACCESS_DENIED: ("403", "forbidden", '"the API key is not valid"'),
    apigw.ResponseType.INVALID_API_KEY: (
        "403",
        "forbidden",
        '"the key has no usage plan; make keys with python -m vectadb.local.keys create --usage-plan <id>"',
    ),
    apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN: ("404", "not_found", '"no such route"'),
    apigw.ResponseType.BAD_REQUEST_BODY: (
        "400",
        "invalid_request_body",
        '"the body does not match the route\'s schema; see /api/v1/openapi.json"',
    ),
    apigw.ResponseType.REQUEST_TOO_LARGE: ("413", "payload_too_large", "$context.error.messageString"),
    apigw.ResponseType.THROTTLED: ("429", "throttled", '"too many requests; retry with backoff"'),
    apigw.ResponseType.QUOTA_EXCEEDED: ("429", "quota_exceeded", "$context.error.messageString"),
    apigw.ResponseType.INTEGRATION_TIMEOUT: ("504", "timeout", '"the request took too long"'),
    apigw.ResponseType.DEFAULT_4_XX: ("", "bad_request", "$context.error.messageString"),
    apigw.ResponseType.DEFAULT_5_XX: ("", "internal_error", "$context.error.messageString"),
}


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        ingest: lambda_.IFunction,
        layers: Layers,
    ) -> None:
        super().__init__(scope, construct_id)
        api_config = config.api
        self.key_table = dynamodb.TableV2(
            self,
            "Keys",
            partition_key=dynamodb.Attribute(name="key_hash", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.authorizer_function = VectaFunction(
            self,
            "Authorizer",
            handler="authorizer.handler.handler",
            description="VectaDB: API keys (Bearer) against the key table",
            size=config.functions.authorizer,
            layers=[layers.base],
            environment={"VECTADB_API_KEY_TABLE": self.key_table.table_name},
        )
        self.key_table.grant(self.authorizer_function.role, "dynamodb:GetItem")
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.rest_api = apigw.RestApi(
            self,
            "Rest",
            rest_api_name=f"{cdk.Stack.of(self).stack_name}-api",
            description="VectaDB: agent events and traces",
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            min_compression_size=cdk.Size.kibibytes(1),
            deploy_options=apigw.StageOptions(
                stage_name=api_config.stage,
                throttling_rate_limit=api_config.stage_rate_limit,
                throttling_burst_limit=api_config.stage_burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
                data_trace_enabled=False,  # would log request bodies and keys
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG)),
            ),
        )
        self.authorizer = apigw.TokenAuthorizer(
            self,
            "TokenAuthorizer",
            handler=self.authorizer_function.function,
            identity_source=apigw.IdentitySource.header("Authorization"),
            validation_regex=BEARER_HEADER,
            results_cache_ttl=AUTHORIZER_CACHE,
        )
        # One invoke permission for the whole API (not two per method): a small, fixed resource policy.
        integration = apigw.LambdaIntegration(ingest, proxy=True, scope_permission_to_method=False)
        validator = self.rest_api.add_request_validator(
            "Requests",
            request_validator_name="bodies-and-parameters",
            validate_request_body=True,
            validate_request_parameters=True,
        )
        for path, method, schema in ROUTES:
            options: dict = {}
            if schema is not None:
                model = self.rest_api.add_model(
                    _model_id(path),
                    content_type="application/json",
                    schema=apigw.JsonSchema(**_schema(schema)),
                )
                options = {"request_models": {"application/json": model}, "request_validator": validator}
            self._resource(path).add_method(
                method,
                integration,
                authorizer=self.authorizer,
                authorization_type=apigw.AuthorizationType.CUSTOM,
                api_key_required=True,
                **options,
            )
        for path, method in PUBLIC_ROUTES:
            self._resource(path).add_method(
                method, integration, authorization_type=apigw.AuthorizationType.NONE
            )
        # Every other method on a route's path reaches the function too, behind the same checks, so
        # that it gets the API's documented 405 with Allow: API Gateway alone would answer
        # "Missing Authentication Token" (our 404) for a method a resource does not define.
        public = {path for path, _ in PUBLIC_ROUTES}
        for path in sorted({path for path, _, _ in ROUTES} | public):
            if path in public:
                self._resource(path).add_method(
                    "ANY", integration, authorization_type=apigw.AuthorizationType.NONE
                )
            else:
                self._resource(path).add_method(
                    "ANY",
                    integration,
                    authorizer=self.authorizer,
                    authorization_type=apigw.AuthorizationType.CUSTOM,
                    api_key_required=True,
                )

        for response_type, (status, code, message) in GATEWAY_ERRORS.items():
            body = '{"error": {"code": "%s", "message": %s, "details": {}}}' % (code, message)  # noqa: UP031
            self.rest_api.add_gateway_response(
                f"Error{response_type.response_type}",
                type=response_type,
                status_code=status or None,
                templates={"application/json": body},
                response_headers={"Content-Type": "'application/json'"},
            )

        self.usage_plan = self.rest_api.add_usage_plan(
            "PerKey",
            name=f"{cdk.Stack.of(self).stack_name}-per-key",
            description="VectaDB: per-key throttling (keys made by python -m vectadb.local.keys)",
            throttle=apigw.ThrottleSettings(
                rate_limit=api_config.rate_limit, burst_limit=api_config.burst_limit
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        if api_config.web_acl_arn:
            wafv2.CfnWebACLAssociation(
                self,
                "WebAcl",
                resource_arn=self.rest_api.deployment_stage.stage_arn,
                web_acl_arn=api_config.web_acl_arn,
            )
        self.url = self.rest_api.url
        self._acknowledge(waf=bool(api_config.web_acl_arn))

    def _acknowledge(self, *, waf: bool) -> None:
        acknowledge(
            self.rest_api,
            "COG4",
            "API keys for machines (log forwarders, SDKs), checked by the TOKEN authorizer; "
            "there are no Cognito users",
        )
        acknowledge(
            self._resource("/health"),
            "APIG4",
            "/health is public on purpose (load balancers, uptime checks); it reveals no data",
        )
        for path, method in [(p, m) for p, _ in PUBLIC_ROUTES if p != "/health" for m in ("GET", "ANY")]:
            acknowledge(  # the methods alone: the root resource's children are every other route
                self._resource(path).node.find_child(method),
                "APIG4",
                "The console's static files (and the redirect to them) hold no data: the page asks "
                "for an API key and every API call it makes goes through the TOKEN authorizer",
            )
        acknowledge(
            self.rest_api,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role API Gateway needs to write execution logs, as AWS defines it",
        )
        if not waf:
            acknowledge(
                self.rest_api,
                "APIG3",
                "WAF costs at least $6 a month; set api.web_acl_arn to attach a web ACL. Every "
                "route but /health needs a key, and the usage plan and stage throttle",
            )

    def _resource(self, path: str) -> apigw.IResource:
        return self.rest_api.root.resource_for_path(path.lstrip("/"))


ACCESS_LOG = {
    "requestId": "$context.requestId",
    "time": "$context.requestTimeEpoch",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "resource": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "keyId": "$context.authorizer.principalId",
    "error": "$context.error.message",
    "authorizerError": "$context.authorizer.error",
    "xrayTraceId": "$context.xrayTraceId",
}


def _model_id(path: str) -> str:
    return "".join(part.title() for part in path.replace(".", "/").split("/") if part.isalnum()) + "Body"


def _schema(schema: dict) -> dict:
    """A plain JSON-schema dict as JsonSchema keyword arguments."""
    kinds = {
        "object": apigw.JsonSchemaType.OBJECT,
        "array": apigw.JsonSchemaType.ARRAY,
        "string": apigw.JsonSchemaType.STRING,
    }
    out: dict = {"type": kinds[schema["type"]], "schema": apigw.JsonSchemaVersion.DRAFT4}
    if "required" in schema:
        out["required"] = schema["required"]
    if "properties" in schema:
        props = {}
        for name, sub in schema["properties"].items():
            props[name] = apigw.JsonSchema(
                type=kinds[sub["type"]], min_items=sub.get("minItems"), max_items=sub.get("maxItems")
            )
        out["properties"] = props
    return out
