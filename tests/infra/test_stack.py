"""The synthesized template against every requirement of the deployment."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.config import ConfigError, parse_config
from tests.infra.conftest import Synth

LOG_GROUPS = ["/aws/lambda/agent-a", "/ecs/agents/b", "/k8s/agents"]


def _functions(s: Synth) -> dict[str, dict[str, Any]]:
    """Our functions (not CDK's provider framework), by handler."""
    return {
        v["Properties"]["Handler"]: v
        for v in s.of_type("AWS::Lambda::Function").values()
        if v["Properties"].get("Handler", "").endswith(".handler.handler")
    }


def _ref(s: Synth, resources: dict[str, dict[str, Any]], predicate: Callable[[dict], bool]) -> str:
    matches = [k for k, v in resources.items() if predicate(v)]
    assert len(matches) == 1, matches
    return matches[0]


# -- cdk-nag -------------------------------------------------------------------------------


def test_cdk_nag_has_no_unacknowledged_finding_and_every_acknowledgement_says_why(default: Synth) -> None:
    (report,) = default.report()["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    assert report["suppressedViolations"], "the checks ran"
    for finding in report["suppressedViolations"]:
        assert len(finding["reason"]) >= 30, finding["ruleName"]
        # Acknowledged at the construct concerned, never for the whole stack.
        assert finding["acknowledgedAt"] != "VectaDb", finding["ruleName"]


def test_a_finding_that_is_not_acknowledged_fails_the_synthesis(tmp_path: Any) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    from infra.nag import add_checks

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bad")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    add_checks(app)
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS2"):
        app.synth()


def test_the_variants_pass_the_checks_too(synth: Callable[..., Synth]) -> None:
    variants = [
        synth(log_groups={"names": LOG_GROUPS, "prefixes": ["/aws/lambda/agents-", "/ecs/"]}),
        synth(network={"nat_gateways": 2, "interface_endpoints": True}),
        synth(storage=EXTERNAL, alarm_email="ops@example.com"),
        synth(api={"web_acl_arn": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/vdb/abc"}),
    ]
    for variant in variants:
        assert variant.report()["pluginReports"][0]["violations"] == []


def test_every_function_logs_to_a_group_with_a_retention(synth: Callable[..., Synth]) -> None:
    """CDK's own functions too (the provider framework, the default security group's custom resource)."""
    variants = [synth(), synth(log_groups={"prefixes": ["/aws/lambda/agents-"]}), synth(storage=EXTERNAL)]
    for s in variants:
        groups = s.of_type("AWS::Logs::LogGroup")
        explicit = {json.dumps(g["Properties"].get("LogGroupName")) for g in groups.values()}
        functions = s.of_type("AWS::Lambda::Function")
        assert any(f["Properties"]["Handler"].startswith("framework.") for f in functions.values())
        for name, fn in functions.items():
            target = fn["Properties"].get("LoggingConfig", {}).get("LogGroup")
            if isinstance(target, dict) and target.get("Ref") in groups:
                assert groups[target["Ref"]]["Properties"]["RetentionInDays"] > 0, name
            else:  # or a group of Lambda's own name for it
                default_name = {"Fn::Join": ["", ["/aws/lambda/", {"Ref": name}]]}
                assert json.dumps(default_name) in explicit, f"{name} logs to a group that keeps logs forever"
    default = variants[0]
    (vpc_provider,) = [
        f
        for k, f in default.of_type("AWS::Lambda::Function").items()
        if k.startswith("CustomVpcRestrictDefaultSG")
    ]
    assert "LogGroup" in vpc_provider["Properties"]["LoggingConfig"]


# -- network -------------------------------------------------------------------------------


def test_a_vpc_with_private_subnets_one_nat_flow_logs_and_free_gateway_endpoints(default: Synth) -> None:
    t = default.template
    t.resource_count_is("AWS::EC2::VPC", 1)
    t.resource_count_is("AWS::EC2::NatGateway", 1)
    t.resource_count_is("AWS::EC2::FlowLog", 1)
    private = [
        v
        for v in default.of_type("AWS::EC2::Subnet").values()
        if not v["Properties"].get("MapPublicIpOnLaunch")
    ]
    assert len(private) == 2
    services = [
        json.dumps(v["Properties"]["ServiceName"]) for v in default.of_type("AWS::EC2::VPCEndpoint").values()
    ]
    assert (
        len(services) == 2 and any(".s3" in s for s in services) and any(".dynamodb" in s for s in services)
    )


def test_interface_endpoints_when_configured(synth: Callable[..., Synth]) -> None:
    s = synth(network={"nat_gateways": 2, "interface_endpoints": True})
    endpoints = s.of_type("AWS::EC2::VPCEndpoint").values()
    interface = [e for e in endpoints if e["Properties"].get("VpcEndpointType") == "Interface"]
    names = " ".join(json.dumps(e["Properties"]["ServiceName"]) for e in interface)
    assert len(interface) == 4
    for service in ("secretsmanager", "sqs", "logs", "xray"):
        assert f".{service}" in names
    s.template.resource_count_is("AWS::EC2::NatGateway", 2)


# -- storage -------------------------------------------------------------------------------


def _containers(s: Synth) -> dict[str, dict[str, Any]]:
    return {
        c["Name"]: c
        for task in s.of_type("AWS::ECS::TaskDefinition").values()
        for c in task["Properties"]["ContainerDefinitions"]
    }


def test_the_stores_run_pinned_images_with_health_checks_and_secrets(default: Synth) -> None:
    containers = _containers(default)
    assert set(containers) == {"SurrealDb", "Qdrant"}
    config = default.stack.config.storage
    assert containers["SurrealDb"]["Image"] == config.surrealdb_image
    assert containers["Qdrant"]["Image"] == config.qdrant_image
    for container in containers.values():
        assert not container["Image"].endswith(":latest")
        assert container["HealthCheck"]["Command"]
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    surreal_secrets = {s["Name"] for s in containers["SurrealDb"]["Secrets"]}
    assert surreal_secrets == {"SURREAL_USER", "SURREAL_PASS"}
    assert [s["Name"] for s in containers["Qdrant"]["Secrets"]] == ["QDRANT__SERVICE__API_KEY"]
    # Credentials never sit in plain environment.
    for container in containers.values():
        for variable in container.get("Environment", []):
            assert not re.search(r"PASS|KEY|SECRET", variable["Name"]), variable
    assert "surrealkv:///data/vectadb" in containers["SurrealDb"]["Command"]


def test_storage_survives_task_and_host_replacement(default: Synth) -> None:
    (volume,) = default.of_type("AWS::EC2::Volume").values()
    assert volume["DeletionPolicy"] == "Retain"
    assert volume["Properties"]["Encrypted"] is True
    assert volume["Properties"]["VolumeType"] == "gp3"
    # The host lives in the volume's AZ: one subnet, and the volume takes that subnet's AZ.
    (group,) = default.of_type("AWS::AutoScaling::AutoScalingGroup").values()
    assert len(group["Properties"]["VPCZoneIdentifier"]) == 1
    subnet_id = group["Properties"]["VPCZoneIdentifier"][0]["Ref"]
    subnet_az = default.resources[subnet_id]["Properties"]["AvailabilityZone"]
    assert volume["Properties"]["AvailabilityZone"] == subnet_az
    (template,) = default.of_type("AWS::EC2::LaunchTemplate").values()
    user_data = json.dumps(template["Properties"]["LaunchTemplateData"]["UserData"])
    assert "attach-volume" in user_data and "mount" in user_data
    # The stores' data is the volume, bind-mounted.
    for task in default.of_type("AWS::ECS::TaskDefinition").values():
        (volume_def,) = task["Properties"]["Volumes"]
        assert volume_def["Host"]["SourcePath"].startswith("/data/")
    # One writer at a time: the old task stops before the new one starts.
    for service in default.of_type("AWS::ECS::Service").values():
        deployment = service["Properties"]["DeploymentConfiguration"]
        assert deployment["MinimumHealthyPercent"] == 0 and deployment["MaximumPercent"] == 100
    default.template.has_resource_properties(
        "AWS::DLM::LifecyclePolicy",
        {"PolicyDetails": Match.object_like({"ResourceTypes": ["VOLUME"]}), "State": "ENABLED"},
    )


def test_the_stores_credentials_are_retained_with_their_data(default: Synth) -> None:
    secrets = {
        k: v
        for k, v in default.of_type("AWS::SecretsManager::Secret").items()
        if k.startswith(("StorageSurrealRoot", "StorageQdrantApiKey"))
    }
    assert len(secrets) == 2
    (volume_id,) = default.of_type("AWS::EC2::Volume")
    for name, secret in secrets.items():
        assert secret["DeletionPolicy"] == "Retain", name
        assert secret["UpdateReplacePolicy"] == "Retain", name
        # Named after the volume they open, so the pair is found again after a teardown.
        assert {"Ref": volume_id} in secret["Properties"]["Description"]["Fn::Join"][1], name


def test_the_store_services_wait_for_the_capacity_provider_association(default: Synth) -> None:
    (association,) = default.of_type("AWS::ECS::ClusterCapacityProviderAssociations")
    services = default.of_type("AWS::ECS::Service")
    assert len(services) == 2
    for name, service in services.items():
        assert association in service.get("DependsOn", []), name


def test_awsvpc_tasks_cannot_reach_the_instance_metadata(default: Synth) -> None:
    (template,) = default.of_type("AWS::EC2::LaunchTemplate").values()
    user_data = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    text = "".join(part if isinstance(part, str) else "<token>" for part in user_data["Fn::Join"][1])
    lines = text.splitlines()
    block = "echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config"
    assert block in lines
    # Before anything that may exit the script (the volume's attachment).
    assert lines.index(block) < min(i for i, line in enumerate(lines) if "attach-volume" in line)


def test_the_stores_admit_only_the_functions_security_group(default: Synth) -> None:
    ingresses = list(default.of_type("AWS::EC2::SecurityGroupIngress").values())
    ports = sorted(i["Properties"]["FromPort"] for i in ingresses)
    assert ports == [6333, 8000]
    sources = {i["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0] for i in ingresses}
    assert len(sources) == 1
    (clients,) = sources
    for handler in ("ingest.handler.handler", "reindex.handler.handler", "retention.handler.handler"):
        groups = _functions(default)[handler]["Properties"]["VpcConfig"]["SecurityGroupIds"]
        assert groups == [{"Fn::GetAtt": [clients, "GroupId"]}]
    # Nothing else opens a port to the world.
    for group in default.of_type("AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") != "0.0.0.0/0", rule


def test_cloud_map_names(default: Synth) -> None:
    (namespace,) = default.of_type("AWS::ServiceDiscovery::PrivateDnsNamespace").values()
    names = sorted(
        v["Properties"]["Name"] for v in default.of_type("AWS::ServiceDiscovery::Service").values()
    )
    assert names == ["qdrant", "surrealdb"]
    env = _functions(default)["ingest.handler.handler"]["Properties"]["Environment"]["Variables"]
    domain = namespace["Properties"]["Name"]
    assert env["VECTADB_SURREAL_URL"] == f"ws://surrealdb.{domain}:8000"
    assert env["VECTADB_QDRANT_URL"] == f"http://qdrant.{domain}:6333"


EXTERNAL = {
    "mode": "external",
    "surreal_url": "wss://surreal.example.com",
    "surreal_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:vdb/surreal-AbCdEf",
    "qdrant_url": "https://qdrant.example.com:6333",
    "qdrant_api_key_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:vdb/qdrant-AbCdEf",
}


def test_external_stores_need_no_vpc_and_no_ecs(synth: Callable[..., Synth]) -> None:
    s = synth(storage=EXTERNAL, alarm_email="ops@example.com")
    for kind in ("AWS::EC2::VPC", "AWS::ECS::Cluster", "AWS::EC2::NatGateway", "AWS::EC2::Volume"):
        s.template.resource_count_is(kind, 0)
    ingest = _functions(s)["ingest.handler.handler"]["Properties"]
    assert "VpcConfig" not in ingest
    env = ingest["Environment"]["Variables"]
    assert env["VECTADB_SURREAL_URL"] == EXTERNAL["surreal_url"]
    assert env["VECTADB_QDRANT_API_KEY_SECRET_ARN"] == EXTERNAL["qdrant_api_key_secret_arn"]
    s.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


# -- functions -----------------------------------------------------------------------------


def test_functions_run_python_3_12_x86_with_their_layers_sizes_and_own_log_groups(default: Synth) -> None:
    functions = _functions(default)
    assert set(functions) == {
        f"{name}.handler.handler"
        for name in ("ingest", "authorizer", "parser", "redrive", "reindex", "retention", "servicekey")
    }
    config = default.stack.config.functions
    layer_ids = {
        v["Properties"]["Description"].split(":")[1].strip().split()[0]: k
        for k, v in default.of_type("AWS::Lambda::LayerVersion").items()
    }
    assert set(layer_ids) == {"Powertools,", "base", "the"} or len(layer_ids) == 3
    for handler, fn in functions.items():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["x86_64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert "LogGroup" in props["LoggingConfig"]
        size = getattr(config, handler.split(".")[0], None)
        if size is not None:
            assert props["MemorySize"] == size.memory_mb
            assert props["Timeout"] == size.timeout_s
    ingest_layers = functions["ingest.handler.handler"]["Properties"]["Layers"]
    parser_layers = functions["parser.handler.handler"]["Properties"]["Layers"]
    assert len(ingest_layers) == 2 and len(parser_layers) == 1
    assert parser_layers[0] not in ingest_layers
    ingest_env = functions["ingest.handler.handler"]["Properties"]["Environment"]["Variables"]
    assert ingest_env["VECTADB_MODEL_DIR"] == "/opt/model"
    assert ingest_env["VECTADB_RETENTION_DAYS"] == "30"
    for log_group in default.of_type("AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] > 0


def test_roles_hold_only_their_own_grants(default: Synth) -> None:
    for name, role in default.of_type("AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            assert "AdministratorAccess" not in json.dumps(arn), name
    for name, policy in default.of_type("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)


# -- API -----------------------------------------------------------------------------------


def _methods(s: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    """(path, verb) -> method properties, paths rebuilt from the resource tree."""
    resources = s.of_type("AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        if isinstance(ref, dict) and "Ref" in ref and ref["Ref"] in resources:
            props = resources[ref["Ref"]]["Properties"]
            return path_of(props["ParentId"]) + "/" + props["PathPart"]
        return ""

    return {
        (path_of(m["Properties"]["ResourceId"]) or "/", m["Properties"]["HttpMethod"]): m["Properties"]
        for m in s.of_type("AWS::ApiGateway::Method").values()
    }


def test_every_route_of_the_handler_is_deployed_and_only_health_and_the_console_are_public(
    default: Synth,
) -> None:
    from ingest.handler import app
    from vectadb.api.routes import is_public

    handler_routes = {
        (key.split("/", 1)[1] if "/" in key else "", key.split("/", 1)[0]) for key in app._route_keys
    }
    handler_routes = {
        ("/" + re.sub(r"<(\w+)>", r"{\1}", path).replace(".+", "{proxy+}"), verb)
        for path, verb in handler_routes
    }
    methods = _methods(default)
    assert {key for key in methods if key[1] != "ANY"} == handler_routes
    # Any other method on a route's path reaches the handler, which answers 405 with Allow.
    assert {path for path, verb in methods if verb == "ANY"} == {path for path, _ in handler_routes}
    (authorizer_id,) = default.of_type("AWS::ApiGateway::Authorizer")
    public = {path for path, _ in methods if is_public(path.replace("{proxy+}", "app.js"))}
    assert public == {"/health", "/", "/ui", "/ui/{proxy+}"}
    for (path, _verb), method in methods.items():
        if path in public:
            assert method["AuthorizationType"] == "NONE"
            continue
        assert method["AuthorizationType"] == "CUSTOM", path
        assert method["AuthorizerId"] == {"Ref": authorizer_id}
        assert method["ApiKeyRequired"] is True, path  # so that the usage plan applies per key
        assert method["Integration"]["Type"] == "AWS_PROXY"


def test_the_ingest_function_has_one_invoke_permission_for_the_whole_api(default: Synth) -> None:
    functions = default.of_type("AWS::Lambda::Function")
    ingest = _ref(default, functions, lambda v: v["Properties"].get("Handler") == "ingest.handler.handler")
    permissions = [
        p["Properties"]
        for p in default.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [ingest, "Arn"]}
    ]
    (permission,) = permissions
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert json.dumps(permission["SourceArn"]).endswith('"/*/*/*"]]}')


def test_the_token_authorizer_is_cached_and_keys_are_digests_in_dynamodb(default: Synth) -> None:
    default.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "TOKEN",
            "AuthorizerResultTtlInSeconds": 300,
            "IdentitySource": "method.request.header.Authorization",
        },
    )
    default.template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "key_hash", "KeyType": "HASH"}],
            "Replicas": [
                Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
            ],
        },
    )
    env = _functions(default)["authorizer.handler.handler"]["Properties"]["Environment"]["Variables"]
    assert "VECTADB_API_KEY_TABLE" in env and "VECTADB_API_KEYS" not in env


def test_a_malformed_authorization_header_never_invokes_the_authorizer(default: Synth) -> None:
    (authorizer,) = default.of_type("AWS::ApiGateway::Authorizer").values()
    expression = authorizer["Properties"]["IdentityValidationExpression"]
    for header in ("Bearer vdb_abc123", "bearer vdb_abc123", "BEARER x"):
        assert re.fullmatch(expression, header), header
    for header in ("", "Bearer", "Bearer ", "Bearer a b", "Bearervdb_abc", "Basic dXNlcjpwYXNz", "vdb_abc"):
        assert not re.fullmatch(expression, header), header


def test_throttling_per_key_and_per_stage_with_access_logs(default: Synth) -> None:
    api = default.stack.config.api
    default.template.has_resource_properties("AWS::ApiGateway::RestApi", {"ApiKeySourceType": "AUTHORIZER"})
    default.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Throttle": {"RateLimit": api.rate_limit, "BurstLimit": api.burst_limit}},
    )
    (stage,) = default.of_type("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == api.stage
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == api.stage_rate_limit
    assert settings["ThrottlingBurstLimit"] == api.stage_burst_limit
    assert settings["DataTraceEnabled"] is False  # would log bodies and keys
    access = json.loads(props["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "keyId", "latencyMs"} <= set(access)


def test_request_validation_and_gateway_errors_in_the_api_shape(default: Synth) -> None:
    default.template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True}
    )
    methods = _methods(default)
    batch = methods[("/api/v1/events/batch", "POST")]
    assert "application/json" in batch["RequestModels"]
    (model,) = [
        m["Properties"]["Schema"]
        for m in default.of_type("AWS::ApiGateway::Model").values()
        if "events" in json.dumps(m["Properties"]["Schema"])
    ]
    assert model["properties"]["events"]["maxItems"] == 1000
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in default.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    assert responses["THROTTLED"]["StatusCode"] == "429"
    for response in responses.values():
        body = response["ResponseTemplates"]["application/json"]
        # $context.error.messageString is substituted as a quoted JSON string.
        rendered = body.replace("$context.error.messageString", '"message"')
        parsed = json.loads(rendered)
        assert set(parsed["error"]) == {"code", "message", "details"}


# -- log pipeline --------------------------------------------------------------------------


def test_subscription_filters_permissions_and_dlq_match_the_configured_log_groups(
    synth: Callable[..., Synth],
) -> None:
    s = synth(
        log_groups={
            "names": LOG_GROUPS,
            "prefixes": ["/aws/lambda/agents-", "/ecs/"],
            "filter_pattern": "?ERROR ?tool",
        }
    )
    functions = s.of_type("AWS::Lambda::Function")
    parser = _ref(s, functions, lambda v: v["Properties"].get("Handler") == "parser.handler.handler")
    filters = s.of_type("AWS::Logs::SubscriptionFilter")
    assert sorted(f["Properties"]["LogGroupName"] for f in filters.values()) == sorted(LOG_GROUPS)
    permission = _ref(
        s,
        s.of_type("AWS::Lambda::Permission"),
        lambda v: v["Properties"]["Principal"] == "logs.amazonaws.com",
    )
    for subscription in filters.values():
        assert subscription["Properties"]["DestinationArn"] == {"Fn::GetAtt": [parser, "Arn"]}
        assert subscription["Properties"]["FilterPattern"] == "?ERROR ?tool"
        assert permission in subscription["DependsOn"]  # CloudWatch tests the invoke when it subscribes
    props = s.resources[permission]["Properties"]
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert json.dumps(props["SourceArn"]).endswith(':log-group:*"]]}')

    (prefixes,) = s.of_type("Custom::VectaDbSubscriptions").values()
    assert prefixes["Properties"]["Prefixes"] == ["/aws/lambda/agents-", "/ecs/"]
    assert prefixes["Properties"]["DestinationArn"] == {"Fn::GetAtt": [parser, "Arn"]}
    excluded = json.dumps(prefixes["Properties"]["Exclude"])
    assert "/aws/lambda/VectaDb-" in excluded
    # Every VectaDB function's own log group, the parser's first of all.
    own_groups = {
        k
        for k, v in s.of_type("AWS::Logs::LogGroup").items()
        if any(
            f["Properties"].get("LoggingConfig", {}).get("LogGroup") == {"Ref": k}
            for f in _functions(s).values()
        )
    }
    assert len(own_groups) == len(_functions(s)) == 8
    for group in own_groups:
        assert json.dumps({"Ref": group}) in excluded, group
    # The scheduled re-expansion sends the same properties as the deploy.
    rules = [r for r in s.of_type("AWS::Events::Rule").values() if "Input" in r["Properties"]["Targets"][0]]
    assert any("VectaDbSubscriptions" not in json.dumps(r) and "Sync" in json.dumps(r) for r in rules)

    (invoke_config,) = s.of_type("AWS::Lambda::EventInvokeConfig").values()
    dlq = _ref(s, s.of_type("AWS::SQS::Queue"), lambda v: True)
    assert invoke_config["Properties"]["FunctionName"] == {"Ref": parser}
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2
    assert invoke_config["Properties"]["MaximumEventAgeInSeconds"] == 6 * 3600
    assert invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [dlq, "Arn"]
    }
    env = s.resources[parser]["Properties"]["Environment"]["Variables"]
    assert env["VECTADB_DLQ_URL"] == {"Ref": dlq}


def test_the_resource_policy_does_not_grow_with_the_log_groups(synth: Callable[..., Synth]) -> None:
    many = [f"/aws/lambda/agent-{i:03d}" for i in range(120)]
    s = synth(log_groups={"names": many})
    s.template.resource_count_is("AWS::Logs::SubscriptionFilter", 120)
    logs_permissions = [
        p
        for p in s.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "logs.amazonaws.com"
    ]
    assert len(logs_permissions) == 1


def test_the_dead_letter_queue_is_encrypted_keeps_14_days_and_needs_tls(default: Synth) -> None:
    ((_queue_id, queue),) = default.of_type("AWS::SQS::Queue").items()
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    default.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )


def test_redrive_runs_on_a_schedule(default: Synth) -> None:
    functions = default.of_type("AWS::Lambda::Function")
    redrive = _ref(default, functions, lambda v: v["Properties"].get("Handler") == "redrive.handler.handler")
    minutes = default.stack.config.schedules.redrive_minutes
    default.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": f"rate({minutes} minutes)",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [redrive, "Arn"]}})],
        },
    )


def test_no_reserved_concurrency_unless_configured(synth: Callable[..., Synth]) -> None:
    # A new account's concurrency quota is 10, and Lambda keeps all of it unreserved: any
    # reservation would fail the first deployment.
    for fn in synth().of_type("AWS::Lambda::Function").values():
        assert "ReservedConcurrentExecutions" not in fn["Properties"], fn["Properties"].get("Handler")
    s = synth(functions={"reserved_concurrency": {"ingest": 50, "redrive": 1}})
    reserved = {
        handler: fn["Properties"].get("ReservedConcurrentExecutions") for handler, fn in _functions(s).items()
    }
    assert reserved.pop("ingest.handler.handler") == 50
    assert reserved.pop("redrive.handler.handler") == 1
    assert set(reserved.values()) == {None}


def test_the_parsers_key_is_made_at_deploy_in_its_own_secret(default: Synth) -> None:
    (key,) = default.of_type("Custom::VectaDbServiceKey").values()
    parser = _functions(default)["parser.handler.handler"]["Properties"]["Environment"]["Variables"]
    assert key["Properties"]["SecretArn"] == parser["VECTADB_API_KEY_SECRET_ARN"]
    assert "VECTADB_API_KEY" not in parser


def test_a_rules_file_goes_to_ssm_and_a_bad_one_stops_the_synthesis(
    synth: Callable[..., Synth], tmp_path: Any
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: deploy\n    pattern: 'deploy (?P<service>\\w+)'\n    event_type: deploy\n"
    )
    s = synth(parser_rules_file=str(rules))
    ((parameter_id, parameter),) = s.of_type("AWS::SSM::Parameter").items()
    assert parameter["Properties"]["Value"] == rules.read_text()
    env = _functions(s)["parser.handler.handler"]["Properties"]["Environment"]["Variables"]
    assert env["VECTADB_PARSER_RULES"] == {"Fn::Join": ["", ["ssm:", {"Ref": parameter_id}]]}
    rules.write_text("rules:\n  - name: broken\n    pattern: '(unclosed'\n    event_type: x\n")
    with pytest.raises(ConfigError, match=r"broken|unclosed|pattern"):
        parse_config({"parser_rules_file": str(rules)})


# -- maintenance and monitoring ------------------------------------------------------------


def test_reindex_and_retention_run_on_their_schedules(synth: Callable[..., Synth]) -> None:
    s = synth(retention_days=7, schedules={"reindex_minutes": 30, "retention_hours": 12})
    functions = s.of_type("AWS::Lambda::Function")
    for handler, expression in (
        ("reindex.handler.handler", "rate(30 minutes)"),
        ("retention.handler.handler", "rate(12 hours)"),
    ):
        fn = _ref(s, functions, lambda v, h=handler: v["Properties"].get("Handler") == h)
        s.template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "ScheduleExpression": expression,
                "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [fn, "Arn"]}})],
            },
        )
    retention = _functions(s)["retention.handler.handler"]["Properties"]["Environment"]["Variables"]
    assert retention["VECTADB_RETENTION_DAYS"] == "7"


def test_alarms_cover_the_dlq_functions_api_and_stores_and_notify_the_topic(default: Synth) -> None:
    alarms = list(default.of_type("AWS::CloudWatch::Alarm").values())
    (topic,) = default.of_type("AWS::SNS::Topic")
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for alarm in alarms:
        by_metric.setdefault(alarm["Properties"].get("MetricName", "?"), []).append(alarm["Properties"])
    (dlq,) = by_metric["ApproximateNumberOfMessagesVisible"]
    assert dlq["Threshold"] == 0 and dlq["ComparisonOperator"] == "GreaterThanThreshold"
    # Every function that runs after the deploy (the key maker runs only during it).
    assert len(by_metric["Errors"]) == len(by_metric["Throttles"]) == 6
    assert len(by_metric["5XXError"]) == 1
    (latency,) = by_metric["Latency"]
    assert latency["ExtendedStatistic"] == "p99"
    running = by_metric["RunningTaskCount"]
    assert len(running) == 2 and all(a["TreatMissingData"] == "breaching" for a in running)


def test_cloudwatch_may_publish_the_alarms_to_the_topic_and_only_over_tls(default: Synth) -> None:
    (topic,) = default.of_type("AWS::SNS::Topic")
    (policy,) = default.of_type("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": topic}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert allow["Condition"]["ArnLike"] == {
        "aws:SourceArn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":cloudwatch:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":alarm:*",
                ],
            ]
        }
    }


def test_the_dashboard_follows_events_from_lines_to_the_store(default: Synth) -> None:
    (dashboard,) = default.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "LinesReceived",
        "EventsParsedJson",
        "EventsSent",
        "EventsStored",
        "EventsConflicting",
        "EventsReplaced",
        "EventsRejected",
        "EventsToDLQ",
    ):
        assert metric in body, metric


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"log_groups": {"names": ["has space"]}}, "vectadb.log_groups.names"),
        ({"storage": {"mode": "external"}}, "surreal_url"),
        ({"storage": {"qdrant_image": "qdrant/qdrant:latest"}}, "pin an image tag"),
        ({"storage": {"surrealdb_image": "surrealdb/surrealdb"}}, "pin an image tag"),
        ({"functions": {"ingest": {"memory_mb": 64, "timeout_s": 29}}}, "vectadb.functions.ingest.memory_mb"),
        ({"retention_days": 0}, "vectadb.retention_days"),
        ({"unknown": 1}, "vectadb.unknown"),
        ({"parser_rules_file": "missing.yaml"}, "no rules file"),
        ({"functions": {"reserved_concurrency": {"redrive": 0}}}, "functions.reserved_concurrency.redrive"),
        ({"functions": {"reserved_concurrency": {"ingest": -5}}}, "functions.reserved_concurrency.ingest"),
        ({"functions": {"reserved_concurrency": {"parser": 5}}}, "reserved_concurrency.parser"),
        # ECS refuses a capacity provider name (the stack name's) starting so, in any case.
        ({"stack_name": "AwsVectaDb"}, "stack_name 'AwsVectaDb' starts with 'Aws'"),
        ({"stack_name": "ecs-logs"}, "stack_name 'ecs-logs' starts with 'ecs'"),
        ({"stack_name": "FARGATEDb"}, "starts with 'FARGATE'"),
        # A host that cannot place both store tasks (or boot the AMI) would leave the stack hanging.
        ({"storage": {"instance_type": "t3.small"}}, "'t3.small' has 2048 MiB of memory, under the 4096"),
        ({"storage": {"instance_type": "t3.micro"}}, "2 network interfaces, under the 3 needed"),
        ({"storage": {"instance_type": "t3a.nano"}}, "under the 4096 MiB needed"),
        ({"storage": {"instance_type": "t4g.medium"}}, "'t4g.medium' is a Graviton (arm64) type"),
        ({"storage": {"instance_type": "m7g.large"}}, "Graviton"),
        ({"storage": {"instance_type": "c6gn.xlarge"}}, "Graviton"),
        ({"storage": {"instance_type": "a1.large"}}, "Graviton"),
        (
            {"storage": {"instance_type": "t2.medium"}},
            "'t2.medium' is not a known storage host type; accepted",
        ),
        ({"storage": {"instance_type": "m5.micro"}}, "is not a known storage host type"),
    ],
)
def test_an_invalid_config_names_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(data)


def test_the_default_and_every_listed_host_type_that_fits_pass_validation() -> None:
    from infra.config import INSTANCE_TYPES, Storage

    default = parse_config({})
    assert default.storage.instance_type == "t3.medium"
    assert default.functions.reserved_concurrency.ingest is None
    assert default.functions.reserved_concurrency.redrive is None
    for name in ("t3.medium", "t3a.large", "m5.large", "c6i.large", "r7i.xlarge"):
        assert Storage(instance_type=name).instance_type == name
    # Known types below the bar are refused, not silently accepted.
    too_small = sorted(name for name in INSTANCE_TYPES if name.split(".")[1] in ("nano", "micro", "small"))
    for name in too_small:
        with pytest.raises(ValueError, match="could never be placed"):
            Storage(instance_type=name)


def test_a_stack_name_ecs_refuses_is_fine_without_ecs() -> None:
    config = parse_config({"stack_name": "AwsVectaDb", "storage": EXTERNAL})
    assert config.stack_name == "AwsVectaDb"


def test_api_gateway_compresses_answers_over_one_kib(default: Synth) -> None:
    """The console's files and large JSON answers leave compressed for clients that accept it."""
    (api,) = default.of_type("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["MinimumCompressionSize"] == 1024
