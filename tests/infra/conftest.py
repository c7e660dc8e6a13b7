"""Synthesis of the real app (the stack, its assets and the cdk-nag checks), once per config."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import assertions

from infra.config import ROOT, parse_config
from infra.nag import add_checks
from infra.stack import VectaDbStack

CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass
class Synth:
    stack: VectaDbStack
    template: assertions.Template
    outdir: Path

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.to_json()["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def synthesize(overrides: dict[str, Any], outdir: Path) -> Synth:
    data = {**CDK_CONTEXT["vectadb"], **overrides}
    context = {k: v for k, v in CDK_CONTEXT.items() if k != "vectadb"}
    app = cdk.App(outdir=str(outdir), context=context)
    config = parse_config(data)
    stack = VectaDbStack(app, config.stack_name, config=config)
    add_checks(app)
    assembly = app.synth()  # raises when a cdk-nag finding is not acknowledged
    template = assembly.get_stack_artifact(stack.artifact_id).template
    return Synth(stack, assertions.Template.from_json(template), outdir)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synth]:
    """``synth(**overrides)``: the stack for cdk.json's config with these top-level overrides."""
    cache: dict[str, Synth] = {}

    def make(**overrides: Any) -> Synth:
        key = json.dumps(overrides, sort_keys=True, default=str)
        if key not in cache:
            cache[key] = synthesize(overrides, tmp_path_factory.mktemp("cdk.out"))
        return cache[key]

    return make


@pytest.fixture(scope="session")
def default(synth: Callable[..., Synth]) -> Synth:
    return synth()
