"""The ai.onnx.ml operators with numeric tensors (Binarizer, ArrayFeatureExtractor,
LabelEncoder, TreeEnsemble): the onnx wheel's node cases, and against onnx's reference
implementation what they leave out (numeric LabelEncoder tables, every TreeEnsemble mode,
averaging, missing values, a model of only ml ops importing no default opset)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from converter import convert
from converter.errors import ConversionError
from modelzoo.runtime import run_openvino

from onnx_conformance_cases import assert_conforms, case_id, cases_of

ML = "ai.onnx.ml"
OPERATORS = ("Binarizer", "ArrayFeatureExtractor", "LabelEncoder", "TreeEnsemble")
# The LabelEncoder node cases all map strings, which IR tensors (numeric) cannot hold.
STRING_CASES = ("test_ai_onnx_ml_label_encoder_string_int",
                "test_ai_onnx_ml_label_encoder_string_int_no_default",
                "test_ai_onnx_ml_label_encoder_tensor_mapping",
                "test_ai_onnx_ml_label_encoder_tensor_value_only_mapping")


@pytest.mark.parametrize("case", cases_of(*OPERATORS, exclude=STRING_CASES), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", [c for c in cases_of("LabelEncoder") if c.name in STRING_CASES],
                         ids=case_id)
def test_string_cases_are_refused_by_name(tmp_path, case):
    path = tmp_path / "model.onnx"
    path.write_bytes(case.model_bytes)
    with pytest.raises(ConversionError, match="(?i)string"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


def _model(node: onnx.NodeProto, inputs: dict[str, tuple], output_type: int,
           ml_version: int = 3) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node], "ml",
        [helper.make_tensor_value_info(n, t, s) for n, (s, t) in inputs.items()],
        [helper.make_tensor_value_info(o, output_type, None) for o in node.output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(ML, ml_version)])
    model.ir_version = 8
    return model


def _compare(tmp_path, model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    expected = ReferenceEvaluator(model).run(None, feeds)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    actual = run_openvino(xml, feeds)
    for info, value in zip(model.graph.output, expected):
        assert actual[info.name].shape == value.shape, (actual[info.name].shape, value.shape)
        np.testing.assert_allclose(actual[info.name], value, rtol=1e-6, atol=1e-6)


def _convert(tmp_path, model: onnx.ModelProto):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return convert(path, output_dir=tmp_path / "ir", model_name="model")


# -- Binarizer, ArrayFeatureExtractor -------------------------------------------------------
def test_binarizer_default_threshold(tmp_path):
    node = helper.make_node("Binarizer", ["X"], ["Y"], domain=ML)
    feeds = {"X": np.float32([[-1, 0, 0.5], [2, -0.1, 0]])}
    _compare(tmp_path, _model(node, {"X": ((2, 3), TensorProto.FLOAT)}, TensorProto.FLOAT), feeds)


@pytest.mark.parametrize("data_shape,indices", [((5,), [[4, 0]]), ((2, 3, 4), [3, 1, 1]),
                                                ((3, 4), [[2], [0]])])
def test_array_feature_extractor_shapes(tmp_path, data_shape, indices):
    indices = np.array(indices, np.int64)
    node = helper.make_node("ArrayFeatureExtractor", ["X", "I"], ["Y"], domain=ML)
    model = _model(node, {"X": (data_shape, TensorProto.FLOAT),
                          "I": (indices.shape, TensorProto.INT64)}, TensorProto.FLOAT)
    feeds = {"X": np.arange(np.prod(data_shape), dtype=np.float32).reshape(data_shape),
             "I": indices}
    _compare(tmp_path, model, feeds)


# -- LabelEncoder ----------------------------------------------------------------------------
@pytest.mark.parametrize("input_type,attrs,output_type", [
    (TensorProto.INT64, {"keys_int64s": [3, 7, -1], "values_floats": [0.5, 1.5, 2.5]},
     TensorProto.FLOAT),
    (TensorProto.INT64, {"keys_int64s": [3, 7], "values_int64s": [30, 70], "default_int64": 9},
     TensorProto.INT64),
    (TensorProto.FLOAT, {"keys_floats": [0.5, 2.0], "values_int64s": [1, 2]}, TensorProto.INT64),
    (TensorProto.INT32, {"keys_tensor": numpy_helper.from_array(np.int32([1, 2, 5])),
                         "values_tensor": numpy_helper.from_array(np.int16([-1, -2, -5])),
                         "default_tensor": numpy_helper.from_array(np.int16([42]))},
     TensorProto.INT16),
])
def test_label_encoder_numeric_tables(tmp_path, input_type, attrs, output_type):
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain=ML, **attrs)
    model = _model(node, {"X": ((2, 3), input_type)}, output_type, ml_version=4)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(input_type)
    feeds = {"X": np.array([[3, 7, 0], [-1, 5, 2]]).astype(dtype)}
    if input_type == TensorProto.FLOAT:
        feeds["X"] = np.float32([[0.5, 2.0, 1.0], [2.0, -3, 0.5]])
    _compare(tmp_path, model, feeds)


def test_label_encoder_string_values_are_refused(tmp_path):
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], name="encode", domain=ML,
                            keys_int64s=[1, 2], values_strings=["a", "b"])
    model = _model(node, {"X": ((3,), TensorProto.INT64)}, TensorProto.INT64, ml_version=2)
    with pytest.raises(ConversionError, match="values are strings") as info:
        _convert(tmp_path, model)
    assert "encode" in str(info.value)


# -- TreeEnsemble ----------------------------------------------------------------------------
def _tree_node(modes, splits, aggregate=1, **extra) -> onnx.NodeProto:
    """Two trees over 2 features and 3 targets: tree 0 is nodes 0..2 (4 leaves), tree 1 is
    node 3 (2 leaves)."""
    attrs = dict(
        n_targets=3, aggregate_function=aggregate, post_transform=0, tree_roots=[0, 3],
        nodes_modes=numpy_helper.from_array(np.uint8(modes), "modes"),
        nodes_featureids=[0, 1, 0, 1],
        nodes_splits=numpy_helper.from_array(np.float32(splits), "splits"),
        nodes_truenodeids=[1, 0, 2, 4], nodes_trueleafs=[0, 1, 1, 1],
        nodes_falsenodeids=[2, 1, 3, 5], nodes_falseleafs=[0, 1, 1, 1],
        leaf_targetids=[0, 1, 2, 0, 1, 2],
        leaf_weights=numpy_helper.from_array(np.float32([1, 10, 100, 1000, 3, 30]), "weights"))
    return helper.make_node("TreeEnsemble", ["X"], ["Y"], name="trees", domain=ML,
                            **(attrs | extra))


ROWS = np.float32([[0.5, 1.0], [1.0, 2.0], [2.0, -1.0], [np.nan, 1.0], [1.5, np.nan], [3, 3]])


@pytest.mark.parametrize("modes", [[0, 1, 2, 3], [4, 5, 0, 1], [3, 2, 5, 4]])
@pytest.mark.parametrize("aggregate", [1, 0])
def test_tree_ensemble_modes_and_aggregation(tmp_path, modes, aggregate):
    node = _tree_node(modes, [1.0, 1.0, 2.0, 1.0], aggregate)
    model = _model(node, {"X": ((6, 2), TensorProto.FLOAT)}, TensorProto.FLOAT, ml_version=5)
    _compare(tmp_path, model, {"X": ROWS})


def test_tree_ensemble_missing_values_track_true(tmp_path):
    node = _tree_node([0, 1, 2, 3], [1.0, 1.0, 2.0, 1.0],
                      nodes_missing_value_tracks_true=[1, 0, 1, 1])
    model = _model(node, {"X": ((6, 2), TensorProto.FLOAT)}, TensorProto.FLOAT, ml_version=5)
    _compare(tmp_path, model, {"X": ROWS})


def test_tree_ensemble_min_is_refused_by_name(tmp_path):
    node = _tree_node([0, 1, 2, 3], [1.0, 1.0, 2.0, 1.0], aggregate=2)
    model = _model(node, {"X": ((6, 2), TensorProto.FLOAT)}, TensorProto.FLOAT, ml_version=5)
    with pytest.raises(ConversionError, match="aggregate_function 2") as info:
        _convert(tmp_path, model)
    assert "trees" in str(info.value)


def test_model_with_default_domain_nodes_still_needs_its_opset(tmp_path):
    node = helper.make_node("Relu", ["X"], ["Y"])
    model = _model(node, {"X": ((2,), TensorProto.FLOAT)}, TensorProto.FLOAT)
    with pytest.raises(ConversionError, match="imports no default-domain"):
        _convert(tmp_path, model)
