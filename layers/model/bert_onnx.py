"""A BERT encoder as an ONNX graph, built from safetensors weights with ``onnx`` and ``numpy`` only.

This is how the offline model is made without torch: the published weights of
sentence-transformers/all-MiniLM-L6-v2 (a 6-layer BERT) are laid into the standard BERT
computation. Inputs are ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64,
[batch, sequence]); the output is ``last_hidden_state`` ([batch, sequence, hidden]). Pooling and
normalisation are left to fastembed, as for the published ONNX exports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization is core from opset 17


class _Graph:
    def __init__(self, weights: Mapping[str, np.ndarray], prefix: str) -> None:
        self.weights = weights
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, array: np.ndarray) -> str:
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(self, key: str, transpose: bool = False) -> str:
        array = self.weights[self.prefix + key].astype(np.float32)
        return self.const(key.replace(".", "_"), array.T if transpose else array)

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def linear(self, x: str, key: str) -> str:
        return self.op(
            "Add",
            [
                self.op("MatMul", [x, self.weight(f"{key}.weight", transpose=True)]),
                self.weight(f"{key}.bias"),
            ],
        )

    def layer_norm(self, x: str, key: str, eps: float) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.weight(f"{key}.weight"), self.weight(f"{key}.bias")],
            axis=-1,
            epsilon=eps,
        )


def _weights_prefix(weights: Mapping[str, np.ndarray]) -> str:
    for prefix in ("", "bert.", "model."):
        if f"{prefix}embeddings.word_embeddings.weight" in weights:
            return prefix
    raise ValueError("these weights are not a BERT model: no embeddings.word_embeddings.weight")


def build_bert(weights: Mapping[str, np.ndarray], config: Mapping[str, Any]) -> onnx.ModelProto:
    """The encoder of a BERT ``config`` (transformers' config.json) with ``weights``."""
    if (
        config.get("hidden_act", "gelu") != "gelu"
        or config.get("position_embedding_type", "absolute") != "absolute"
    ):
        raise ValueError("only BERT with exact GELU and absolute positions is supported")
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    g = _Graph(weights, _weights_prefix(weights))

    # Embeddings: word + position + token type, then LayerNorm.
    seq_len = g.op("Shape", ["input_ids"], start=1, end=2)  # 1-D: [sequence]
    zero = g.const("zero", np.array([0], dtype=np.int64))
    positions = g.op("Slice", [g.weight("embeddings.position_embeddings.weight"), zero, seq_len, zero])
    x = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), "input_ids"], axis=0)
    x = g.op("Add", [x, positions])
    x = g.op(
        "Add",
        [x, g.op("Gather", [g.weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], axis=0)],
    )
    x = g.layer_norm(x, "embeddings.LayerNorm", eps)

    # Padding mask as an additive bias on the attention scores: [batch, 1, 1, sequence].
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = g.op(
        "Mul",
        [
            g.op("Sub", [g.const("one_f", np.array(1.0, dtype=np.float32)), mask]),
            g.const("neg", np.array(-1e4, dtype=np.float32)),
        ],
    )
    mask = g.op("Unsqueeze", [mask, g.const("axes", np.array([1, 2], dtype=np.int64))])

    split_heads = g.const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = g.const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = g.const("scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))
    one = g.const("one_g", np.array(1.0, dtype=np.float32))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))

    for i in range(int(config["num_hidden_layers"])):
        layer = f"encoder.layer.{i}"

        def heads_of(x: str, name: str, perm: list[int], layer: str = layer) -> str:
            projected = g.linear(x, f"{layer}.attention.self.{name}")
            return g.op("Transpose", [g.op("Reshape", [projected, split_heads])], perm=perm)

        q = heads_of(x, "query", [0, 2, 1, 3])
        k = heads_of(x, "key", [0, 2, 3, 1])  # already transposed for q @ k
        v = heads_of(x, "value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = g.linear(context, f"{layer}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [attended, x]), f"{layer}.attention.output.LayerNorm", eps)

        h = g.linear(x, f"{layer}.intermediate.dense")
        gelu = g.op(
            "Mul", [g.op("Mul", [h, half]), g.op("Add", [one, g.op("Erf", [g.op("Div", [h, sqrt2])])])]
        )
        out = g.linear(gelu, f"{layer}.output.dense")
        x = g.layer_norm(g.op("Add", [out, x]), f"{layer}.output.LayerNorm", eps)

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="last_hidden_state"))
    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "bert_encoder",
        inputs=[
            helper.make_tensor_value_info(name, TensorProto.INT64, dims)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        outputs=[helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, hidden])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vectadb")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def reference_forward(
    weights: Mapping[str, np.ndarray],
    config: Mapping[str, Any],
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
) -> np.ndarray:
    """The same encoder in plain numpy (float64): an independent check of the graph."""
    from math import erf

    p = _weights_prefix(weights)
    w = {k[len(p) :]: v.astype(np.float64) for k, v in weights.items() if k.startswith(p)}
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    verf = np.vectorize(erf)

    def norm(x: np.ndarray, key: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[f"{key}.weight"] + w[f"{key}.bias"]

    def dense(x: np.ndarray, key: str) -> np.ndarray:
        return x @ w[f"{key}.weight"].T + w[f"{key}.bias"]

    batch, seq = input_ids.shape
    x = w["embeddings.word_embeddings.weight"][input_ids]
    x = x + w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
    x = x + w["embeddings.token_type_embeddings.weight"][np.zeros_like(input_ids)]
    x = norm(x, "embeddings.LayerNorm")
    bias = (1.0 - attention_mask.astype(np.float64))[:, None, None, :] * -1e4
    d = hidden // heads
    for i in range(int(config["num_hidden_layers"])):
        layer = f"encoder.layer.{i}"

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, seq, heads, d).transpose(0, 2, 1, 3)

        q = split(dense(x, f"{layer}.attention.self.query"))
        k = split(dense(x, f"{layer}.attention.self.key"))
        v = split(dense(x, f"{layer}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = norm(dense(context, f"{layer}.attention.output.dense") + x, f"{layer}.attention.output.LayerNorm")
        h = dense(x, f"{layer}.intermediate.dense")
        h = 0.5 * h * (1.0 + verf(h / math.sqrt(2.0)))
        x = norm(dense(h, f"{layer}.output.dense") + x, f"{layer}.output.LayerNorm")
    return x
