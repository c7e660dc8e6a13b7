"""The layers as the stack deploys them: under Lambda's 250 MB, and importable by Python 3.12."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra.config import ROOT
from layers.build import LIMIT_BYTES, build_all, dir_size, pip_install_for_lambda, python312
from tests.infra.conftest import Synth

HANDLERS = (
    "ingest",
    "authorizer",
    "parser",
    "redrive",
    "reindex",
    "retention",
    "subscriptions",
    "servicekey",
)


@pytest.fixture(scope="module")
def built() -> dict[str, int]:
    """Built by `make layers`; rebuilt here only when an input changed."""
    return build_all(ROOT / "build" / "layers")


def _asset_dir(s: Synth, code: dict) -> Path:
    return s.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"


def test_every_function_with_its_layers_fits_in_250_mb(
    default: Synth, built: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    layers = {k: v["Properties"]["Content"] for k, v in default.of_type("AWS::Lambda::LayerVersion").items()}
    sizes: dict[str, int] = {}
    for fn in default.of_type("AWS::Lambda::Function").values():
        props = fn["Properties"]
        if not props.get("Handler", "").endswith(".handler.handler"):
            continue
        total = dir_size(_asset_dir(default, props["Code"]))
        for layer in props.get("Layers", []):
            total += dir_size(_asset_dir(default, layers[layer["Ref"]]))
        sizes[props["Handler"].split(".")[0]] = total
    with capsys.disabled():
        print(
            "\nunzipped code + layers: "
            + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sorted(sizes.items()))
        )
    assert sizes["ingest"] == max(sizes.values())
    assert sizes["ingest"] > 150 * 2**20  # the real layers, not an empty directory
    for handler, size in sizes.items():
        assert size <= LIMIT_BYTES, f"{handler}: {size / 2**20:.1f} MiB"
    # The staged assets are the built layers, byte for byte in size.
    assert abs(sizes["parser"] - built["base"] - built["code"]) < 2**14


def test_the_code_asset_leaves_out_demo_logs_and_caches(default: Synth) -> None:
    fn = next(
        v
        for v in default.of_type("AWS::Lambda::Function").values()
        if v["Properties"].get("Handler") == "parser.handler.handler"
    )
    asset = _asset_dir(default, fn["Properties"]["Code"])
    assert (asset / "vectadb" / "logparse" / "default_rules.yaml").is_file()
    assert not (asset / "parser" / "demo").exists()
    assert (asset / "vectadb" / "core" / "models.py").is_file()
    assert not (asset / "vectadb" / "local").exists()  # the local server, feed and command lines
    # The console ships in the asset, its pinned libraries too: nothing is fetched at run time.
    console = asset / "vectadb" / "api" / "console"
    from vectadb.api.console import VENDOR_FILES

    assert (console / "index.html").is_file()
    assert all((console / "vendor" / name).is_file() for name in VENDOR_FILES)
    assert not list(asset.rglob("__pycache__"))


@pytest.fixture(scope="module")
def lambda_runtime_boto3() -> Path:
    """Lambda's Python runtime has boto3; the layers leave it out, so bring it for the check."""
    target = ROOT / "build" / "lambda-runtime"
    if not (target / "boto3").is_dir():
        pip_install_for_lambda(["boto3==1.44.5"], target)
    return target


def test_the_full_and_model_layers_import_every_handler_and_embed_under_python_3_12(
    built: dict[str, int], lambda_runtime_boto3: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    python = python312()
    if python is None:
        pytest.skip("no Python 3.12 interpreter on this machine (the layers target Lambda's 3.12)")
    layers = ROOT / "build" / "layers"
    probe = f"""
import json, time
start = time.perf_counter()
import importlib
for name in {HANDLERS!r}:
    importlib.import_module(name + ".handler")
imported = time.perf_counter() - start
from vectadb.semantic.embedder import Embedder
embedder = Embedder("/opt/model", cache_dir="{tmp_path / "cache"}")
vector = [float(v) for v in embedder.embed(["agent called web_search"])[0]]
print(json.dumps({{"imported_s": imported, "dim": len(vector), "norm": sum(v * v for v in vector)}}))
"""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(
            [str(layers / "full" / "python"), str(ROOT / "lambdas"), str(lambda_runtime_boto3)]
        ),
        "PYTHONNOUSERSITE": "1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "HOME": str(tmp_path),
    }
    # -S: no site-packages of the interpreter, as in Lambda where only /opt/python and the code exist.
    result = subprocess.run(
        [python, "-S", "-c", probe.replace("/opt/model", str(layers / "model" / "model"))],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["dim"] == 384
    assert abs(figures["norm"] - 1.0) < 1e-3
    with capsys.disabled():
        print(f"\npython3.12 with the layers: every handler imported in {figures['imported_s']:.2f} s")
