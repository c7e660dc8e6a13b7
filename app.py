#!/usr/bin/env python3
"""The CDK app: ``cdk synth`` / ``cdk deploy`` (see docs/deployment.md).

cdk-nag's AwsSolutions checks run on every synthesis; a finding without an acknowledgement (with
its reason, in infra/nag.py) fails it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]  # infra validates rules with the parser's code

import aws_cdk as cdk  # noqa: E402

from infra.config import ConfigError, load_config  # noqa: E402
from infra.nag import add_checks  # noqa: E402
from infra.stack import VectaDbStack  # noqa: E402


def build(app: cdk.App) -> VectaDbStack:
    config = load_config(app.node.try_get_context)
    missing = [
        str(path)
        for path in (config.layers_dir / "base", config.layers_dir / "full", config.embedding.model_dir)
        if not path.is_dir()
    ]
    if missing:
        raise ConfigError(f"the Lambda layers are not built ({', '.join(missing)}): run `make layers`")
    stack = VectaDbStack(
        app,
        config.stack_name,
        config=config,
        description="VectaDB: agent observability from CloudWatch Logs",
    )
    cdk.Tags.of(stack).add("project", "vectadb")
    add_checks(app)
    return stack


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except ConfigError as exc:
        sys.exit(f"error: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
