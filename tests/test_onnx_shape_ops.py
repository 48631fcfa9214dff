"""Shape and tensor plumbing (Squeeze, Unsqueeze, Split, Pad, Range, Tile, Expand, Reshape,
Size, Shape, Concat, Slice, Transpose, Identity, Constant, ConstantOfShape, Dropout): the onnx
wheel's node cases, which pass axes, pads, repeats and split sizes as model inputs, plus what
they miss: constant inputs folded, older opset readings, Dropout's mask and training errors,
sparse constants, and clear errors where the conversion cannot go on."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from bench.conformance_check import check
from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, ir_layer_types, make_model

OPERATORS = ("Squeeze", "Unsqueeze", "Split", "Pad", "Range", "Tile", "Expand", "Reshape",
             "Size", "Shape", "Concat", "Slice", "Transpose", "Identity", "Constant",
             "ConstantOfShape", "Dropout")
FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL

LEFT_OUT = {
    # Training with ratio > 0 given as a run-time input: the expected outputs come from one
    # seeded random mask, which no converted model reproduces (with both inputs constant the
    # conversion refuses it: test_training_dropout_with_ratio_is_an_error).
    "test_training_dropout": "random mask",
    "test_training_dropout_default": "random mask",
    "test_training_dropout_default_mask": "random mask",
    "test_training_dropout_mask": "random mask",
}
# Optional and sequence inputs: OpenVINO IR inputs are tensors.
CANNOT_CONVERT = {"test_identity_opt": "is an optional", "test_identity_sequence": "is a sequence"}


@pytest.mark.parametrize("case", cases_of(*OPERATORS,
                                          exclude=tuple(LEFT_OUT) + tuple(CANNOT_CONVERT)),
                         ids=case_id)
def test_node_case(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", [c for c in cases_of(*OPERATORS) if c.name in CANNOT_CONVERT],
                         ids=case_id)
def test_node_case_fails_at_conversion(case):
    outcome = check(case, "ours")
    assert outcome.stage == "convert", outcome
    assert CANNOT_CONVERT[case.name] in outcome.error
    assert "OpenVINO IR cannot hold" in outcome.error


def _convert(model: onnx.ModelProto, tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return convert(path, output_dir=tmp_path / "ir", model_name="model")


def _folded(op_type: str, opset: int, constants: dict[str, np.ndarray], tmp_path,
            **attrs) -> None:
    """One node whose inputs are all initializers: the IR must be constants alone, holding
    what the ONNX reference computes."""
    node = helper.make_node(op_type, list(constants), ["y"], name="node", **attrs)
    model = make_model([node], {}, {"y": (None, FLOAT)}, opset, constants)
    xml = _convert(model, tmp_path)
    assert set(ir_layer_types(xml)) == {"Const", "Result"}, ir_layer_types(xml)
    np.testing.assert_array_equal(run_openvino(xml, {})["y"],
                                  ReferenceEvaluator(model).run(None, {})[0])


DATA = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_folds(tmp_path, mode):
    _folded("Pad", 13, {"x": DATA, "pads": np.int64([0, 1, 2, 1, 2, 1])}, tmp_path, mode=mode)


def test_pad_negative_pads_crop(tmp_path):
    node = helper.make_node("Pad", ["x", "pads"], ["y"])
    folded = make_model([node], {}, {"y": (None, FLOAT)}, 13,
                        {"x": DATA, "pads": np.int64([0, -1, 2, -1, 1, -2])})
    xml = _convert(folded, tmp_path / "folded")
    assert set(ir_layer_types(xml)) == {"Const", "Result"}
    expected = np.pad(DATA[:, 1:, :], [(0, 0), (0, 1), (2, 0)])[:-1, :, :-2]
    np.testing.assert_array_equal(run_openvino(xml, {})["y"], expected)
    runtime = make_model([node], {"x": ([2, 3, 4], FLOAT), "pads": ([6], INT64)},
                         {"y": (None, FLOAT)}, 13)
    (tmp_path / "runtime").mkdir()
    convert_and_compare(runtime, tmp_path / "runtime",
                        feeds={"x": DATA, "pads": np.int64([1, 0, -1, 0, 2, -2])})


def test_size_folds_for_a_static_shape(tmp_path):
    _folded("Size", 13, {"x": DATA}, tmp_path)


def test_size_of_a_dynamic_shape(tmp_path):
    node = helper.make_node("Size", ["x"], ["y"])
    model = make_model([node], {"x": (["n", 3], FLOAT)}, {"y": (None, INT64)}, 13)
    convert_and_compare(model, tmp_path, feeds={"x": np.ones((5, 3), np.float32)})


def test_tile_keeps_constant_repeats_a_tile(tmp_path):
    node = helper.make_node("Tile", ["x", "repeats"], ["y"])
    model = make_model([node], {"x": ([2, 3, 4], FLOAT)}, {"y": (None, FLOAT)}, 13,
                       {"repeats": np.int64([2, 1, 3])})
    assert "Tile" in ir_layer_types(convert_and_compare(model, tmp_path))


def test_split_constant_lengths_opset13_and_attribute_opset2(tmp_path):
    node = helper.make_node("Split", ["x", "split"], ["a", "b"], axis=-1)
    model = make_model([node], {"x": ([2, 3, 5], FLOAT)},
                       {"a": (None, FLOAT), "b": (None, FLOAT)}, 13, {"split": np.int64([1, 4])})
    (tmp_path / "13").mkdir()
    convert_and_compare(model, tmp_path / "13")
    node = helper.make_node("Split", ["x"], ["a", "b"], axis=2, split=[3, 2])
    model = make_model([node], {"x": ([2, 3, 5], FLOAT)},
                       {"a": (None, FLOAT), "b": (None, FLOAT)}, 2)
    (tmp_path / "2").mkdir()
    convert_and_compare(model, tmp_path / "2")


def test_unsqueeze_runtime_axes_of_unknown_count_is_an_error(tmp_path):
    node = helper.make_node("Unsqueeze", ["x", "axes"], ["y"], name="unsq")
    model = make_model([node], {"x": ([2, 3], FLOAT), "axes": (["k"], INT64)},
                       {"y": (None, FLOAT)}, 13)
    with pytest.raises(UserInputError, match=r"Unsqueeze node 'unsq'.*rank is unknown"):
        _convert(model, tmp_path)


def test_squeeze_runtime_axes_negative(tmp_path):
    node = helper.make_node("Squeeze", ["x", "axes"], ["y"])
    model = make_model([node], {"x": ([2, 1, 3, 1], FLOAT), "axes": ([2], INT64)},
                       {"y": (None, FLOAT)}, 13)
    convert_and_compare(model, tmp_path, feeds={"x": np.ones((2, 1, 3, 1), np.float32),
                                                "axes": np.int64([-1, 1])})


def _dropout(opset: int, training: bool | None, ratio: float | None) -> onnx.ModelProto:
    """A Dropout node reading y and mask, with constant ratio and training_mode when given
    (an empty name skips the ratio when only training_mode is)."""
    inputs, constants = ["x"], {}
    if ratio is not None or training is not None:
        inputs.append("" if ratio is None else "ratio")
        if ratio is not None:
            constants["ratio"] = np.float32(ratio)
    if training is not None:
        inputs.append("training_mode")
        constants["training_mode"] = np.bool_(training)
    node = helper.make_node("Dropout", inputs, ["y", "mask"], name="drop")
    return make_model([node], {"x": ([3, 4], FLOAT)},
                      {"y": (None, FLOAT), "mask": (None, BOOL)}, opset, constants)


@pytest.mark.parametrize("opset, training, ratio", [(7, None, None), (12, None, 0.3),
                                                    (13, True, 0.0), (13, False, 0.7)])
def test_dropout_mask_is_all_true(tmp_path, opset, training, ratio):
    model = _dropout(opset, training, ratio)
    xml = _convert(model, tmp_path)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    actual = run_openvino(xml, {"x": x})
    np.testing.assert_array_equal(actual["y"], x)
    assert actual["mask"].dtype == np.bool_ and actual["mask"].shape == (3, 4)
    assert actual["mask"].all()


@pytest.mark.parametrize("ratio", [0.5, None])
def test_training_dropout_with_ratio_is_an_error(tmp_path, ratio):
    with pytest.raises(UserInputError, match=r"Dropout node 'drop'.*training_mode=true with "
                                             r"ratio 0\.5"):
        _convert(_dropout(13, True, ratio), tmp_path)


def test_constant_sparse_value(tmp_path):
    values = helper.make_tensor("values", FLOAT, [3], [1.5, -2, 3])
    indices = helper.make_tensor("indices", INT64, [3, 2], [0, 1, 1, 0, 1, 2])
    node = helper.make_node("Constant", [], ["y"],
                            sparse_value=helper.make_sparse_tensor(values, indices, [2, 3]))
    model = make_model([node], {}, {"y": (None, FLOAT)}, 13)
    np.testing.assert_array_equal(run_openvino(_convert(model, tmp_path), {})["y"],
                                  np.float32([[0, 1.5, 0], [-2, 0, 3]]))


def test_constant_string_is_an_error(tmp_path):
    node = helper.make_node("Constant", [], ["y"], name="text", value_strings=["a", "b"])
    model = make_model([node], {}, {"y": (None, TensorProto.STRING)}, 13)
    with pytest.raises(UserInputError, match=r"Constant node 'text'.*string"):
        _convert(model, tmp_path)


@pytest.mark.parametrize("constant", [True, False])
def test_range_takes_one_element_vectors(tmp_path, constant):
    """ONNX's own function bodies (AffineGrid's) feed Range one-element vectors; its reference
    takes them as scalars, and so does the converter."""
    bounds = {"start": np.array([1.0], np.float32), "limit": np.array([7.0], np.float32),
              "delta": np.array([1.5], np.float32)}
    node = helper.make_node("Range", list(bounds), ["y"])
    if constant:
        model = make_model([node], {}, {"y": (None, TensorProto.FLOAT)}, 13, initializers=bounds)
        feeds = {}
    else:
        model = make_model([node], {k: ([1], TensorProto.FLOAT) for k in bounds},
                           {"y": (None, TensorProto.FLOAT)}, 13)
        feeds = bounds
    path = tmp_path / "range.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    np.testing.assert_allclose(run_openvino(xml, feeds)["y"], [1.0, 2.5, 4.0, 5.5])
