"""Build the Lambda layers without Docker: pip's cross-platform install, trimmed, for Python 3.12.

    python -m layers.build [--out build/layers]

- ``base``: ``python/`` with Powertools, pydantic, the SurrealDB SDK, requests and PyYAML;
  every function but those below.
- ``full``: ``python/`` with base + fastembed + qdrant-client (one resolution, no duplicates);
  ingest, reindex, retention.
- ``model``: ``model/``, the embedding model, int8 (the fp32 one does not fit Lambda's 250 MB);
  ingest, reindex, retention.

Wheels are ``manylinux`` x86_64 for CPython 3.12 (``--only-binary=:all:``; onnxruntime ships
only manylinux_2_28 wheels, which Lambda's Amazon Linux 2023 runs). Lambda provides boto3 and
botocore, so they are removed. Bytecode is compiled by a Python 3.12 when one is found, and
otherwise not shipped at all: a 3.11 .pyc is dead weight in a 3.12 runtime. A layer is rebuilt
only when its inputs change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
PYTHON_VERSION = "3.12"
SEMANTIC = ("fastembed", "qdrant-client")
# Never imported in Lambda: what the runtime already has, tests, tools, and optional backends.
PROVIDED_BY_LAMBDA = ("boto3", "botocore", "s3transfer")
TRIM = (
    "bin",
    "numpy/_core/tests",
    "numpy/*/tests",
    "numpy/tests",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
    "onnxruntime/capi/libonnxruntime.so*",  # the Python extension does not link it
    "hf_xet",
    "numpy/f2py",
    "numpy/_core/include",
    "numpy/_pyinstaller",
    "**/*.pyi",  # type stubs
    "*/__pycache__",
)
LIMIT_BYTES = 250 * 1024 * 1024  # code + layers, unzipped


def requirements(semantic: bool) -> list[str]:
    wanted = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = line.split("==")[0].split("[")[0].lower()
        if semantic or name not in SEMANTIC:
            wanted.append(line)
    return wanted


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def python312() -> str | None:
    candidates = [
        shutil.which("python3.12"),
        *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")),
    ]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            out = subprocess.run(  # noqa: S603 - a local interpreter, a fixed snippet
                [str(candidate), "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == "(3, 12)":
            return str(candidate)
    return None


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _trim(site: Path) -> None:
    for pattern in (*TRIM, *PROVIDED_BY_LAMBDA, *(f"{name}-*.dist-info" for name in PROVIDED_BY_LAMBDA)):
        for path in site.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def pip_install_for_lambda(reqs: list[str], target: Path) -> None:
    """Wheels for Lambda's CPython 3.12 on x86_64 into ``target``, whatever this machine is."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        "--target",
        str(target),
        *reqs,
    ]
    subprocess.run(command, check=True)  # noqa: S603 - this interpreter's pip, fixed arguments


def build_python_layer(name: str, reqs: list[str], out: Path) -> Path:
    layer = out / name
    stamp = layer / ".fingerprint"
    fingerprint = _fingerprint(*reqs, *PLATFORMS, *TRIM, Path(__file__).read_text())
    if stamp.exists() and stamp.read_text() == fingerprint:
        print(f"layers: {name} is up to date ({dir_size(layer) / 2**20:.1f} MiB)")
        return layer
    if layer.exists():
        shutil.rmtree(layer)
    site = layer / "python"
    site.mkdir(parents=True)
    print(f"layers: installing {name} for Python {PYTHON_VERSION} x86_64", flush=True)
    pip_install_for_lambda(reqs, site)
    _trim(site)
    compiler = python312()
    if compiler:
        subprocess.run(  # noqa: S603
            [
                compiler,
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "--invalidation-mode",
                "unchecked-hash",
                str(site),
            ],
            check=True,
        )
    print(f"layers: {name} {dir_size(layer) / 2**20:.1f} MiB, bytecode: {'3.12' if compiler else 'none'}")
    stamp.write_text(fingerprint)
    return layer


def build_model_layer(out: Path) -> Path:
    from layers.model.build import build

    layer = out / "model"
    build(layer / "model", "int8", "auto")
    return layer


CODE_LEFT_OUT = ("parser/demo", "vectadb/local")  # as infra/functions.py's CODE_EXCLUDE
CACHES = ("__pycache__", ".pytest_cache", ".mypy_cache")


def code_size() -> int:
    """The function code asset: lambdas/ without the demo logs, the local-only code and caches."""
    total = 0
    for path in (ROOT / "lambdas").rglob("*"):
        relative = path.relative_to(ROOT / "lambdas").as_posix()
        if (
            path.is_file()
            and not any(cache in relative.split("/") for cache in CACHES)
            and not relative.startswith(CODE_LEFT_OUT)
        ):
            total += path.stat().st_size
    return total


def build_all(out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    sizes = {
        "base": dir_size(build_python_layer("base", requirements(semantic=False), out)),
        "full": dir_size(build_python_layer("full", requirements(semantic=True), out)),
        "model": dir_size(build_model_layer(out)),
        "code": code_size(),
    }
    (out / "sizes.json").write_text(json.dumps(sizes, indent=2))
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "layers")
    args = parser.parse_args(argv)
    sizes = build_all(args.out)
    heaviest = sizes["code"] + sizes["full"] + sizes["model"]
    print(
        "layers: "
        + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sizes.items())
        + f"; heaviest function (ingest) {heaviest / 2**20:.1f} MiB of {LIMIT_BYTES / 2**20:.0f}"
    )
    return 0 if heaviest <= LIMIT_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
