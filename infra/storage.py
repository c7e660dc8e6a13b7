"""SurrealDB and Qdrant on ECS, on one EC2 host whose data lives on a persistent EBS volume.

Why EC2 capacity and not Fargate: Qdrant refuses network file systems (EFS), and a Fargate task's
managed EBS volume is created when the task starts and deleted when it stops, so every task
replacement would restore from the last snapshot and lose the writes since. Here the data volume
is a stand-alone, encrypted gp3 volume (retained on stack deletion with the stores' secrets,
snapshotted daily by Data Lifecycle Manager) that the host attaches at boot. A replaced host or
task finds the same data.

Both services run as ``awsvpc`` tasks, so each has a security group of its own that admits only
the clients' group (the ingestion and maintenance functions), and a Cloud Map name:
``surrealdb.<namespace>:8000`` and ``qdrant.<namespace>:6333``. Deployments stop the old task before
starting the new one (the stores lock their files).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_dlm as dlm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import STORE_TASK_CPU, STORE_TASK_MEMORY_MIB
from infra.config import Storage as StorageConfig
from infra.nag import acknowledge

NAMESPACE = "vectadb.internal"
SURREAL_PORT = 8000
QDRANT_PORT = 6333
DATA_DEVICE = "/dev/xvdf"
SURREAL_UID = 65532  # the image's non-root user


# ECS agent settings, written first (the volume script may exit): awsvpc tasks cannot reach the
# instance metadata service, so neither the host role's credentials.
ECS_AGENT_CONFIG = ["echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config"]


def attach_volume_script(volume_id: str) -> list[str]:
    """User data: attach the data volume (retrying while an old host lets go), format once, mount.

    Without the volume the host never joins the cluster, so the stores never write to the root disk.
    """
    return [
        "set -euo pipefail",
        "command -v aws >/dev/null || dnf install -y awscli-2",
        'IMDS_TOKEN=$(curl -sfX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',  # noqa: E501
        'INSTANCE_ID=$(curl -sf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" http://169.254.169.254/latest/meta-data/instance-id)',
        'REGION=$(curl -sf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" http://169.254.169.254/latest/meta-data/placement/region)',
        f"VOLUME_ID={volume_id}",
        'DEVICE="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME_ID/-/}"',
        "for attempt in $(seq 1 60); do",
        f'  aws ec2 attach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" --device {DATA_DEVICE} && break',  # noqa: E501
        '  echo "data volume not attachable yet (attempt $attempt), retrying"; sleep 10',
        "done",
        'for attempt in $(seq 1 60); do [ -e "$DEVICE" ] && break; sleep 2; done',
        '[ -e "$DEVICE" ] || { echo "data volume $VOLUME_ID never appeared" >&2; exit 1; }',
        'blkid "$DEVICE" || mkfs -t xfs "$DEVICE"',
        "mkdir -p /data",
        'mountpoint -q /data || mount "$DEVICE" /data',
        'grep -q " /data " /etc/fstab || echo "$DEVICE /data xfs defaults,nofail 0 2" >> /etc/fstab',
        "mkdir -p /data/surrealdb /data/qdrant/storage /data/qdrant/snapshots",
        f"chown -R {SURREAL_UID}:{SURREAL_UID} /data/surrealdb",
        "set +e",
    ]


class Storage(Construct):
    """The stores, their credentials, and the security group a client must carry to reach them."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StorageConfig, vpc: ec2.IVpc) -> None:
        super().__init__(scope, construct_id)
        self.client_security_group = ec2.SecurityGroup(
            self, "Clients", vpc=vpc, description="VectaDB: functions allowed to reach the stores"
        )

        subnet = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnets[0]
        placement = ec2.SubnetSelection(subnets=[subnet])
        self.volume = ec2.Volume(
            self,
            "Data",
            availability_zone=subnet.availability_zone,
            size=cdk.Size.gibibytes(config.data_volume_gib),
            volume_type=ec2.EbsDeviceVolumeType.GP3,
            encrypted=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cdk.Tags.of(self.volume).add("vectadb:backup", cdk.Stack.of(self).stack_name)

        self.surreal_secret = secretsmanager.Secret(
            self,
            "SurrealRoot",
            description=f"VectaDB: SurrealDB root credentials of the data volume {self.volume.volume_id}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"username": "root"}',  # noqa: S106 (a user name)
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=40,
            ),
        )
        self.qdrant_secret = secretsmanager.Secret(
            self,
            "QdrantApiKey",
            description=f"VectaDB: Qdrant API key of the data volume {self.volume.volume_id}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
        )
        for secret in (self.surreal_secret, self.qdrant_secret):
            # Kept with the volume: SurrealDB keeps its root user in the data, so the retained volume
            # opens only with this password; the Qdrant key is kept with it, as a pair.
            secret.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
            acknowledge(
                secret,
                "SMG4",
                "Neither SurrealDB's root user nor Qdrant's static API key can be rotated by a Lambda "
                "rotator: the store must change first (docs/operations.md, 'Rotating secrets')",
            )

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            default_cloud_map_namespace=ecs.CloudMapNamespaceOptions(name=NAMESPACE, vpc=vpc),
        )
        host_role = iam.Role(
            self,
            "HostRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="VectaDB storage host: ECS agent, SSM Session Manager, attach the data volume",
        )
        host_role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
        )
        launch_template = ec2.LaunchTemplate(
            self,
            "HostTemplate",
            instance_type=ec2.InstanceType(config.instance_type),
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(),
            role=host_role,
            user_data=ec2.UserData.for_linux(),
            require_imdsv2=True,
            detailed_monitoring=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        30, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        self.host = autoscaling.AutoScalingGroup(
            self,
            "Host",
            vpc=vpc,
            vpc_subnets=placement,
            min_capacity=1,
            max_capacity=1,
            launch_template=launch_template,
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1, min_instances_in_service=0
            ),
            health_checks=autoscaling.HealthChecks.ec2(grace_period=cdk.Duration.minutes(10)),
        )
        self.volume.grant_attach_volume_by_resource_tag(host_role, [self.host])
        acknowledge(
            host_role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
            "Session Manager access to the storage host, instead of SSH and an open port",
        )
        acknowledge(
            host_role,
            "IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]",
            "AttachVolume on any instance, but only with this stack's tag on both (a tag condition)",
        )
        acknowledge(
            host_role,
            "IAM5[Action::ecs:Submit*]",
            "The ECS agent's own policy, as CDK grants it, on this cluster only",
        )
        acknowledge(
            host_role,
            "IAM5[Resource::*]",
            "The ECS agent's Poll, DiscoverPollEndpoint, StartTelemetrySession and "
            "GetAuthorizationToken have no resource-level permissions",
        )
        acknowledge(
            self.host,
            "AS3",
            "A fixed group of one: a replacement is visible through the NotRunning alarms of the stores",
        )
        self.host.add_user_data(*ECS_AGENT_CONFIG, *attach_volume_script(self.volume.volume_id))
        capacity = ecs.AsgCapacityProvider(
            self,
            "Capacity",
            auto_scaling_group=self.host,
            enable_managed_termination_protection=False,
            enable_managed_scaling=False,
            enable_managed_draining=True,  # ECS drains the host itself: no lifecycle-hook function
        )
        self.cluster.add_asg_capacity_provider(capacity)
        strategy = [ecs.CapacityProviderStrategy(capacity_provider=capacity.capacity_provider_name, weight=1)]

        self._snapshots()

        self.surreal_service = self._service(
            "SurrealDb",
            image=config.surrealdb_image,
            port=SURREAL_PORT,
            host_path="/data/surrealdb",
            container_path="/data",
            command=[
                "start",
                "--log",
                "info",
                "--bind",
                f"0.0.0.0:{SURREAL_PORT}",
                "surrealkv:///data/vectadb",
            ],
            environment={"SURREAL_STRICT": "false"},
            secrets={
                "SURREAL_USER": ecs.Secret.from_secrets_manager(self.surreal_secret, "username"),
                "SURREAL_PASS": ecs.Secret.from_secrets_manager(self.surreal_secret, "password"),
            },
            health=["CMD", "/surreal", "isready", "--conn", f"http://localhost:{SURREAL_PORT}"],
            placement=placement,
            strategy=strategy,
            vpc=vpc,
        )
        self.qdrant_service = self._service(
            "Qdrant",
            image=config.qdrant_image,
            port=QDRANT_PORT,
            host_path="/data/qdrant",
            container_path="/qdrant/storage",
            command=None,
            environment={
                "QDRANT__TELEMETRY_DISABLED": "true",
                "QDRANT__STORAGE__STORAGE_PATH": "/qdrant/storage/storage",
                "QDRANT__STORAGE__SNAPSHOTS_PATH": "/qdrant/storage/snapshots",
            },
            secrets={"QDRANT__SERVICE__API_KEY": ecs.Secret.from_secrets_manager(self.qdrant_secret)},
            health=["CMD-SHELL", f"bash -c ':> /dev/tcp/127.0.0.1/{QDRANT_PORT}' || exit 1"],
            placement=placement,
            strategy=strategy,
            vpc=vpc,
        )
        self.surreal_url = f"ws://surrealdb.{NAMESPACE}:{SURREAL_PORT}"
        self.qdrant_url = f"http://qdrant.{NAMESPACE}:{QDRANT_PORT}"

    def _service(
        self,
        name: str,
        *,
        image: str,
        port: int,
        host_path: str,
        container_path: str,
        command: list[str] | None,
        environment: dict[str, str],
        secrets: dict[str, ecs.Secret],
        health: list[str],
        placement: ec2.SubnetSelection,
        strategy: list[ecs.CapacityProviderStrategy],
        vpc: ec2.IVpc,
    ) -> ecs.Ec2Service:
        task = ecs.Ec2TaskDefinition(self, f"{name}Task", network_mode=ecs.NetworkMode.AWS_VPC)
        task.add_volume(name="data", host=ecs.Host(source_path=host_path))
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        container = task.add_container(
            name,
            image=ecs.ContainerImage.from_registry(image),
            command=command,
            environment=environment,
            secrets=secrets,
            cpu=STORE_TASK_CPU,
            memory_reservation_mib=STORE_TASK_MEMORY_MIB,
            port_mappings=[ecs.PortMapping(container_port=port)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name.lower(), log_group=log_group),
            health_check=ecs.HealthCheck(
                command=health,
                interval=cdk.Duration.seconds(30),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(60),
            ),
        )
        acknowledge(
            task,
            "ECS2",
            "Only non-secret settings are plain environment; credentials come as ECS secrets",
        )
        container.add_mount_points(
            ecs.MountPoint(source_volume="data", container_path=container_path, read_only=False)
        )
        security_group = ec2.SecurityGroup(
            self, f"{name}Sg", vpc=vpc, description=f"VectaDB {name}: clients only", allow_all_outbound=True
        )
        security_group.add_ingress_rule(
            self.client_security_group, ec2.Port.tcp(port), f"{name} from VectaDB functions"
        )
        service = ecs.Ec2Service(
            self,
            f"{name}Service",
            cluster=self.cluster,
            task_definition=task,
            desired_count=1,
            min_healthy_percent=0,  # one writer at a time: stop the old task first
            max_healthy_percent=100,
            security_groups=[security_group],
            vpc_subnets=placement,
            capacity_provider_strategies=strategy,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            cloud_map_options=ecs.CloudMapOptions(
                name=name.lower(),
                dns_record_type=cdk.aws_servicediscovery.DnsRecordType.A,
                dns_ttl=cdk.Duration.seconds(10),
            ),
        )
        # On the whole cluster, so also on its capacity-provider association, which CDK adds only at
        # synthesis: the service is created after the association and deleted before it.
        service.node.add_dependency(self.cluster)
        return service

    def _snapshots(self) -> None:
        role = iam.Role(
            self,
            "SnapshotRole",
            assumed_by=iam.ServicePrincipal("dlm.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AWSDataLifecycleManagerServiceRole"
                )
            ],
        )
        acknowledge(
            role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole]",
            "The service role that AWS defines for Data Lifecycle Manager's snapshot policies",
        )
        dlm.CfnLifecyclePolicy(
            self,
            "DailySnapshots",
            description="VectaDB data volume - daily snapshots - 7 kept",
            state="ENABLED",
            execution_role_arn=role.role_arn,
            policy_details=dlm.CfnLifecyclePolicy.PolicyDetailsProperty(
                resource_types=["VOLUME"],
                target_tags=[cdk.CfnTag(key="vectadb:backup", value=cdk.Stack.of(self).stack_name)],
                schedules=[
                    dlm.CfnLifecyclePolicy.ScheduleProperty(
                        name="daily",
                        create_rule=dlm.CfnLifecyclePolicy.CreateRuleProperty(
                            interval=24, interval_unit="HOURS", times=["03:00"]
                        ),
                        retain_rule=dlm.CfnLifecyclePolicy.RetainRuleProperty(count=7),
                        copy_tags=True,
                    )
                ],
            ),
        )

    def grant_secrets(self, grantee: iam.IGrantable) -> None:
        self.surreal_secret.grant_read(grantee)
        self.qdrant_secret.grant_read(grantee)
