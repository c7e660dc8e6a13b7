"""CloudFormation custom resource: subscribe every log group under the configured prefixes.

Prefixes are expanded when the stack deploys (DescribeLogGroups), so that a deployment follows the
log groups that exist then; names are subscribed by the stack itself. The parser's own log group
and VectaDB's other functions' are never subscribed: that would feed the parser its own logs.

Properties: Prefixes, Exclude, FilterName, FilterPattern, DestinationArn. The stack also invokes it
on a schedule with RequestType "Sync", which subscribes log groups created since (no answer to
CloudFormation is involved: the provider framework is not in that path).
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="vectadb-subscriptions")


def log_groups(logs: Any, prefixes: list[str], exclude: list[str]) -> list[str]:
    names: set[str] = set()
    for prefix in prefixes:
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            names.update(group["logGroupName"] for group in page["logGroups"])
    return sorted(name for name in names if not any(name.startswith(skip) for skip in exclude))


def subscribe(logs: Any, props: dict[str, Any]) -> dict[str, Any]:
    groups = log_groups(logs, list(props.get("Prefixes", [])), list(props.get("Exclude", [])))
    skipped = []
    for name in groups:
        try:
            logs.put_subscription_filter(
                logGroupName=name,
                filterName=props["FilterName"],
                filterPattern=props.get("FilterPattern", ""),
                destinationArn=props["DestinationArn"],
            )
        except logs.exceptions.LimitExceededException:
            # A log group takes two subscription filters; this one has both taken by others.
            logger.warning("log group has no free subscription filter", extra={"log_group": name})
            skipped.append(name)
    logger.info("subscribed log groups", extra={"count": len(groups) - len(skipped), "skipped": skipped})
    return {"Subscribed": len(groups) - len(skipped), "Skipped": ",".join(skipped)[:1000]}


def unsubscribe(logs: Any, props: dict[str, Any]) -> None:
    for name in log_groups(logs, list(props.get("Prefixes", [])), list(props.get("Exclude", []))):
        try:
            logs.delete_subscription_filter(logGroupName=name, filterName=props["FilterName"])
        except logs.exceptions.ResourceNotFoundException:
            continue


def unsubscribe_dropped(logs: Any, old: dict[str, Any], new: dict[str, Any]) -> None:
    """After an update, the groups the old selection had and the new one does not are let go."""
    if not old.get("FilterName"):
        return
    kept = set()
    if old["FilterName"] == new["FilterName"]:
        kept = set(log_groups(logs, list(new.get("Prefixes", [])), list(new.get("Exclude", []))))
    for name in log_groups(logs, list(old.get("Prefixes", [])), list(old.get("Exclude", []))):
        if name in kept:
            continue
        try:
            logs.delete_subscription_filter(logGroupName=name, filterName=old["FilterName"])
        except logs.exceptions.ResourceNotFoundException:
            continue


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The onEvent handler of the CDK provider framework (which answers CloudFormation)."""
    logs = boto3.client("logs")
    props = event["ResourceProperties"]
    physical_id = f"vectadb-subscriptions-{props['FilterName']}"
    if event["RequestType"] == "Delete":
        unsubscribe(logs, props)
        return {"PhysicalResourceId": event.get("PhysicalResourceId", physical_id)}
    if event["RequestType"] == "Update":
        unsubscribe_dropped(logs, event.get("OldResourceProperties") or {}, props)
    return {"PhysicalResourceId": physical_id, "Data": subscribe(logs, props)}
