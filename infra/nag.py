"""cdk-nag AwsSolutions checks, and the findings we accept.

An acknowledgement sits next to the construct it concerns, and always says why; it covers that
construct and what it contains, never the whole stack.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: cdk.App) -> None:
    """Every synthesis runs the checks; an unacknowledged finding fails it."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def logical_id(construct: IConstruct) -> str:
    """The template name of a construct's resource, as cdk-nag writes it in finding ids."""
    stack = cdk.Stack.of(construct)
    resource = construct.node.default_child
    if not isinstance(resource, cdk.CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource of its own")
    return str(stack.resolve(stack.get_logical_id(resource)))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """``rule`` as cdk-nag names it, e.g. ``IAM5[Resource::*]``."""
    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id=f"AwsSolutions::AwsSolutions-{rule}", reason=reason)
    )
