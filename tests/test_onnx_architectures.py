"""Real architectures through the ONNX frontend, checked against onnxruntime in FP32 within
1e-4 of each output's range (OpenVINO CPU with INFERENCE_PRECISION_HINT f32):

- the nine "light" CNNs the onnx wheel ships (AlexNet, DenseNet121, Inception v1/v2, ResNet50,
  ShuffleNet, SqueezeNet, VGG19, ZFNet512). Their weights come from ConstantOfShape nodes (all
  one value, which makes every output degenerate); they are replaced by seeded random
  initializers, and the input of the final Softmax is checked as well, since a saturated
  softmax alone would hide errors in the logits;
- a BERT-style transformer encoder (embeddings, LayerNormalization, multi-head self-attention
  with MatMul and Softmax under an attention mask, an erf-GELU feed-forward block);
- an SSD-style detector head (convolutional box and class heads, prior decoding, softmax) ending
  in NonMaxSuppression.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from converter import convert
from modelzoo.runtime import run_onnxruntime, run_openvino

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50",
                "shufflenet", "squeezenet", "vgg19", "zfnet512"]
TOLERANCE = 1e-4  # of each output's range


def seeded_weights(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """The model with each ConstantOfShape weight replaced by a seeded random initializer
    (He-scaled for kernels, in [0.5, 1.5] for vectors, so that batch-norm variances stay
    positive) and only the real data inputs left as graph inputs."""
    rng = np.random.default_rng(seed)
    graph = model.graph
    initial = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    produced = {name for node in graph.node for name in node.output}
    nodes, weights = [], {}
    for node in graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in initial:
            shape = tuple(int(d) for d in initial[node.input[0]])
            if len(shape) >= 2:
                value = rng.standard_normal(shape, dtype=np.float32) * np.float32(
                    np.sqrt(2.0 / np.prod(shape[1:])))
            else:
                value = rng.uniform(0.5, 1.5, shape).astype(np.float32)
            weights[node.output[0]] = value
        else:
            nodes.append(node)
    used = {name for node in nodes for name in node.input}
    weights.update({k: v for k, v in initial.items() if k in used})
    inputs = [i for i in graph.input if i.name not in initial and i.name not in produced]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in weights.items())
    del graph.input[:]
    graph.input.extend(inputs)
    return model


def expose_logits(model: onnx.ModelProto) -> onnx.ModelProto:
    """Add the input of each Softmax that makes a graph output as a graph output too."""
    outputs = {o.name for o in model.graph.output}
    for node in model.graph.node:
        if node.op_type == "Softmax" and node.output[0] in outputs:
            model.graph.output.append(helper.make_tensor_value_info(node.input[0],
                                                                    TensorProto.FLOAT, None))
    return model


def assert_matches_onnxruntime(model: onnx.ModelProto, feeds: dict, tmp_path: Path,
                               exact: tuple[str, ...] = ()) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    expected = run_onnxruntime(path, feeds)
    actual = run_openvino(xml, feeds)
    for name, value in expected.items():
        assert name in actual, f"output {name!r} missing from the IR (has {sorted(actual)})"
        assert actual[name].shape == value.shape, (name, actual[name].shape, value.shape)
        if name in exact:
            np.testing.assert_array_equal(actual[name], value, err_msg=name)
            continue
        spread = float(value.max() - value.min())
        assert spread > 0, f"output {name!r} is constant: the check would prove nothing"
        error = float(np.abs(actual[name].astype(np.float64) - value).max())
        assert error <= TOLERANCE * spread, \
            f"{name}: max error {error:.3g} exceeds {TOLERANCE} of its range {spread:.3g}"


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_architecture_matches_onnxruntime(name, tmp_path):
    model = expose_logits(seeded_weights(onnx.load(str(LIGHT / f"light_{name}.onnx"))))
    rng = np.random.default_rng(1)
    feeds = {i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim],
                                         dtype=np.float32)
             for i in model.graph.input}
    assert len(feeds) == 1, f"expected one image input, found {sorted(feeds)}"
    assert_matches_onnxruntime(model, feeds, tmp_path)


# -- a BERT-style encoder ------------------------------------------------------------------
VOCAB, SEQ, HIDDEN, HEADS, FFN, LAYERS = 50, 12, 32, 4, 64, 2


class _Builder:
    """Collects nodes and seeded initializers of a hand-built ONNX graph."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def weight(self, shape, scale: float = 0.2, offset: float = 0.0) -> str:
        name = f"w{len(self.initializers)}"
        value = (offset + scale * self.rng.standard_normal(shape)).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def const(self, value) -> str:
        name = f"c{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, *inputs: str, **attrs) -> str:
        self.count += 1
        out = f"{op.lower()}{self.count}"
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def linear(self, x: str, n_in: int, n_out: int) -> str:
        return self.node("Add", self.node("MatMul", x, self.weight((n_in, n_out))),
                         self.weight((n_out,), 0.1))

    def layer_norm(self, x: str) -> str:
        return self.node("LayerNormalization", x, self.weight((HIDDEN,), 0.1, 1.0),
                         self.weight((HIDDEN,), 0.1), axis=-1, epsilon=1e-5)


def _attention(b: _Builder, x: str, mask_bias: str) -> str:
    head = HIDDEN // HEADS
    split = b.const(np.array([1, SEQ, HEADS, head], np.int64))

    def heads(t: str, perm: list[int]) -> str:
        return b.node("Transpose", b.node("Reshape", t, split), perm=perm)

    q = heads(b.linear(x, HIDDEN, HIDDEN), [0, 2, 1, 3])
    k = heads(b.linear(x, HIDDEN, HIDDEN), [0, 2, 3, 1])
    v = heads(b.linear(x, HIDDEN, HIDDEN), [0, 2, 1, 3])
    scores = b.node("Div", b.node("MatMul", q, k), b.const(np.float32(np.sqrt(head))))
    probs = b.node("Softmax", b.node("Add", scores, mask_bias), axis=-1)
    context = b.node("Transpose", b.node("MatMul", probs, v), perm=[0, 2, 1, 3])
    merged = b.node("Reshape", context, b.const(np.array([1, SEQ, HIDDEN], np.int64)))
    return b.linear(merged, HIDDEN, HIDDEN)


def _gelu(b: _Builder, x: str) -> str:
    """x * 0.5 * (1 + erf(x / sqrt 2)), as exporters write GELU before opset 20."""
    erf = b.node("Erf", b.node("Div", x, b.const(np.float32(np.sqrt(2.0)))))
    return b.node("Mul", b.node("Mul", x, b.const(np.float32(0.5))),
                  b.node("Add", erf, b.const(np.float32(1.0))))


def bert_encoder(seed: int = 0) -> onnx.ModelProto:
    b = _Builder(seed)
    embedded = b.node("Add", b.node("Gather", b.weight((VOCAB, HIDDEN), 1.0), "input_ids"),
                      b.weight((SEQ, HIDDEN), 0.5))
    x = b.layer_norm(embedded)
    axis1 = b.const(np.array([1], np.int64))
    keep = b.node("Unsqueeze", b.node("Unsqueeze", "attention_mask", axis1), axis1)  # [1,1,1,S]
    mask_bias = b.node("Mul", b.node("Sub", b.const(np.float32(1.0)), keep),
                       b.const(np.float32(-10000.0)))
    for _ in range(LAYERS):
        x = b.layer_norm(b.node("Add", x, _attention(b, x, mask_bias)))
        hidden = _gelu(b, b.linear(x, HIDDEN, FFN))
        x = b.layer_norm(b.node("Add", x, b.linear(hidden, FFN, HIDDEN)))
    b.nodes.append(helper.make_node("Identity", [x], ["hidden_states"], name="output"))
    graph = helper.make_graph(
        b.nodes, "bert_encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, SEQ]),
         helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, [1, SEQ])],
        [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, [1, SEQ, HIDDEN])],
        b.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_bert_style_encoder_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(2)
    mask = np.ones((1, SEQ), np.float32)
    mask[0, -3:] = 0  # padding the encoder must not attend to
    feeds = {"input_ids": rng.integers(0, VOCAB, (1, SEQ)).astype(np.int64),
             "attention_mask": mask}
    assert_matches_onnxruntime(bert_encoder(), feeds, tmp_path)


# -- an SSD-style detector head --------------------------------------------------------------
GRID, ANCHORS, CLASSES, CHANNELS, MAX_PER_CLASS = 6, 3, 4, 16, 20


def _priors() -> np.ndarray:
    """[1, P, 4] prior boxes (cx, cy, w, h) on a GRID x GRID map, ANCHORS sizes per cell."""
    centres = (np.arange(GRID) + 0.5) / GRID
    cy, cx = np.meshgrid(centres, centres, indexing="ij")
    boxes = [np.stack([cx, cy, np.full_like(cx, s), np.full_like(cx, s)], axis=-1)
             for s in (0.2, 0.35, 0.5)]
    return np.stack(boxes, axis=2).reshape(1, -1, 4).astype(np.float32)


def ssd_head(seed: int = 0) -> onnx.ModelProto:
    b = _Builder(seed)
    priors = _priors()
    count = priors.shape[1]
    loc = b.node("Conv", "features", b.weight((ANCHORS * 4, CHANNELS, 3, 3), 0.05),
                 b.weight((ANCHORS * 4,), 0.05), pads=[1, 1, 1, 1])
    conf = b.node("Conv", "features", b.weight((ANCHORS * CLASSES, CHANNELS, 3, 3), 0.3),
                  b.weight((ANCHORS * CLASSES,), 0.1), pads=[1, 1, 1, 1])
    deltas = b.node("Reshape", b.node("Transpose", loc, perm=[0, 2, 3, 1]),
                    b.const(np.array([1, count, 4], np.int64)))
    logits = b.node("Reshape", b.node("Transpose", conf, perm=[0, 2, 3, 1]),
                    b.const(np.array([1, count, CLASSES], np.int64)))
    scores = b.node("Softmax", logits, axis=-1)
    # centre-size decoding with variances 0.1 (centre) and 0.2 (size)
    prior_centre, prior_size = b.const(priors[..., :2]), b.const(priors[..., 2:])
    axis = b.const(np.array([2], np.int64))
    d_centre = b.node("Slice", deltas, b.const(np.array([0], np.int64)),
                      b.const(np.array([2], np.int64)), axis)
    d_size = b.node("Slice", deltas, b.const(np.array([2], np.int64)),
                    b.const(np.array([4], np.int64)), axis)
    shift = b.node("Mul", b.node("Mul", d_centre, b.const(np.float32(0.1))), prior_size)
    centre = b.node("Add", prior_centre, shift)
    size = b.node("Mul", prior_size, b.node("Exp", b.node("Mul", d_size, b.const(np.float32(0.2)))))
    half = b.node("Mul", size, b.const(np.float32(0.5)))
    corners = b.node("Concat", b.node("Sub", centre, half), b.node("Add", centre, half), axis=2)
    # (x1, y1, x2, y2) -> (y1, x1, y2, x2), ONNX's default corner order
    b.nodes.append(helper.make_node("Gather", [corners, b.const(np.array([1, 0, 3, 2], np.int64))],
                                    ["boxes"], name="boxes", axis=2))
    per_class = b.node("Transpose", scores, perm=[0, 2, 1])
    foreground = b.node("Slice", per_class, b.const(np.array([1], np.int64)),
                        b.const(np.array([CLASSES], np.int64)), b.const(np.array([1], np.int64)))
    b.nodes.append(helper.make_node("Identity", [foreground], ["scores"], name="scores"))
    b.nodes.append(helper.make_node(
        "NonMaxSuppression", ["boxes", "scores", b.const(np.array([MAX_PER_CLASS], np.int64)),
                              b.const(np.array([0.45], np.float32)),
                              b.const(np.array([0.6], np.float32))],
        ["selected"], name="nms"))
    graph = helper.make_graph(
        b.nodes, "ssd_head",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, CHANNELS, GRID, GRID])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, count, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, CLASSES - 1, count]),
         helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])],
        b.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_ssd_style_head_with_nms_matches_onnxruntime(tmp_path):
    feeds = {"features": np.random.default_rng(3).standard_normal(
        (1, CHANNELS, GRID, GRID), dtype=np.float32)}
    model = ssd_head()
    path = tmp_path / "probe.onnx"
    onnx.save(model, str(path))
    selected = run_onnxruntime(path, feeds)["selected"]
    assert 3 <= len(selected) < MAX_PER_CLASS * (CLASSES - 1), \
        f"the head should keep some but not all boxes, kept {len(selected)}"
    assert_matches_onnxruntime(model, feeds, tmp_path, exact=("selected",))
