"""The ONNX BERT graph against an independent numpy forward pass, on a small random BERT."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from layers.model.bert_onnx import build_bert, reference_forward

CONFIG = {
    "hidden_size": 16,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "intermediate_size": 32,
    "layer_norm_eps": 1e-12,
    "hidden_act": "gelu",
    "max_position_embeddings": 20,
    "type_vocab_size": 2,
    "vocab_size": 50,
}


def _weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    h, i = CONFIG["hidden_size"], CONFIG["intermediate_size"]
    w = {
        "embeddings.word_embeddings.weight": rng.normal(size=(CONFIG["vocab_size"], h)),
        "embeddings.position_embeddings.weight": rng.normal(size=(CONFIG["max_position_embeddings"], h)),
        "embeddings.token_type_embeddings.weight": rng.normal(size=(2, h)),
        "embeddings.LayerNorm.weight": rng.normal(1, 0.1, size=h),
        "embeddings.LayerNorm.bias": rng.normal(size=h),
    }
    for layer in range(CONFIG["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        for name in ("query", "key", "value"):
            w[p + f"attention.self.{name}.weight"] = rng.normal(0, 0.3, size=(h, h))
            w[p + f"attention.self.{name}.bias"] = rng.normal(size=h)
        w[p + "attention.output.dense.weight"] = rng.normal(0, 0.3, size=(h, h))
        w[p + "attention.output.dense.bias"] = rng.normal(size=h)
        w[p + "intermediate.dense.weight"] = rng.normal(0, 0.3, size=(i, h))
        w[p + "intermediate.dense.bias"] = rng.normal(size=i)
        w[p + "output.dense.weight"] = rng.normal(0, 0.3, size=(h, i))
        w[p + "output.dense.bias"] = rng.normal(size=h)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + f"{norm}.weight"] = rng.normal(1, 0.1, size=h)
            w[p + f"{norm}.bias"] = rng.normal(size=h)
    return {k: v.astype(np.float32) for k, v in w.items()}


def test_graph_matches_the_numpy_reference_with_padding() -> None:
    rng = np.random.default_rng(7)
    weights = _weights(rng)
    session = ort.InferenceSession(build_bert(weights, CONFIG).SerializeToString())
    ids = rng.integers(1, CONFIG["vocab_size"], size=(3, 9))
    mask = np.ones_like(ids)
    mask[1, 5:] = 0  # a padded row
    mask[2, 2:] = 0
    ids[mask == 0] = 0
    (hidden,) = session.run(
        None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    )
    expected = reference_forward(weights, CONFIG, ids, mask)
    assert hidden.shape == (3, 9, CONFIG["hidden_size"])
    real = mask.astype(bool)
    assert np.abs(hidden[real] - expected[real]).max() < 1e-4
    # Padding must not change the real tokens' states: row 1 alone gives the same result.
    (alone,) = session.run(
        None,
        {
            "input_ids": ids[1:2, :5],
            "attention_mask": mask[1:2, :5],
            "token_type_ids": np.zeros((1, 5), np.int64),
        },
    )
    assert np.abs(alone[0] - hidden[1, :5]).max() < 1e-4


def test_weights_under_a_bert_prefix_are_found() -> None:
    rng = np.random.default_rng(1)
    weights = {"bert." + k: v for k, v in _weights(rng).items()}
    build_bert(weights, CONFIG)
