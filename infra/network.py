"""The VPC: private subnets for the stores and the functions that reach them.

The NAT gateway is not optional while the stores run on ECS: the container images come from
Docker Hub, and the ECS agent talks to the ECS control plane. S3 and DynamoDB gateway endpoints are
free and always on. Interface endpoints (Secrets Manager, SQS, CloudWatch Logs, X-Ray) cost about
$7.30 a month per AZ each, so they are an option for teams that want that traffic off the NAT,
not a replacement for it (see docs/architecture.md).
"""

from __future__ import annotations

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Network as NetworkConfig
from infra.functions import LOG_RETENTION
from infra.nag import acknowledge

INTERFACE_ENDPOINTS = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "XRay": ec2.InterfaceVpcEndpointAwsService.XRAY,
}
# CDK's provider for restrict_default_security_group: one per stack, at the stack's root.
RESTRICT_DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider"


class Network(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: NetworkConfig) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=config.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            ],
            restrict_default_security_group=True,
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
        )
        self._restrict_default_sg_logs()
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        if config.interface_endpoints:
            for name, service in INTERFACE_ENDPOINTS.items():
                endpoint = self.vpc.add_interface_endpoint(
                    name,
                    service=service,
                    private_dns_enabled=True,
                    subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                )
                acknowledge(
                    endpoint,
                    "EC23",
                    "HTTPS from the VPC's own CIDR only (the rule cannot read a CIDR given by reference)",
                )

    def _restrict_default_sg_logs(self) -> None:
        """A log group with a retention for CDK's function that empties the default security group.

        CDK makes that function (a custom-resource provider of the stack) without a log group, so
        Lambda would make one that keeps its logs forever and outlives the stack.
        """
        provider = Stack.of(self).node.try_find_child(RESTRICT_DEFAULT_SG_PROVIDER)
        handler = provider.node.try_find_child("Handler") if provider else None
        if not isinstance(handler, CfnResource):
            raise RuntimeError(f"CDK no longer makes {RESTRICT_DEFAULT_SG_PROVIDER}/Handler")
        log_group = logs.LogGroup(
            self, "RestrictDefaultSgLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        handler.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
