"""ONNX losses (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss): the onnx wheel's node cases
(every reduction, weights, ignore_index inside and outside the classes, the log_prob output,
f32 and f64, and the function expansions: SoftmaxCrossEntropyLoss's is LogSoftmax plus
NegativeLogLikelihoodLoss, NegativeLogLikelihoodLoss's GatherElements, Where and ReduceSum),
plus what those cases miss: the opset 12 reading, constant inputs folded away, a class count
known only at run time, and the error for a bad reduction."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, ir_layer_types, make_model

OPERATORS = ("NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss")
FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64

@pytest.mark.parametrize("case", cases_of(*OPERATORS), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _loss_model(op_type: str, opset: int, shape: tuple, weighted: bool = False,
                outputs: int = 1, **attrs) -> onnx.ModelProto:
    inputs = {"scores": (list(shape), FLOAT), "target": ([shape[0], *shape[2:]], INT64)}
    names = ["scores", "target"]
    if weighted:
        inputs["weight"] = ([shape[1]], FLOAT)
        names.append("weight")
    out_names = ["loss", "log_prob"][:outputs]
    node = helper.make_node(op_type, names, out_names, name="loss_node", **attrs)
    return make_model([node], inputs, {n: (None, FLOAT) for n in out_names}, opset)


def _feeds(shape: tuple, ignore: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, shape[1], size=(shape[0], *shape[2:])).astype(np.int64)
    if ignore is not None:
        target.flat[::3] = ignore
    return {"scores": rng.standard_normal(shape).astype(np.float32), "target": target,
            "weight": rng.uniform(0.5, 1.5, shape[1]).astype(np.float32)}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_opset_12_reading_matches_onnxruntime(tmp_path, reduction):
    shape = (3, 5, 2)
    model = _loss_model("SoftmaxCrossEntropyLoss", 12, shape, weighted=True, outputs=2,
                        reduction=reduction, ignore_index=4)
    convert_and_compare(model, tmp_path, _feeds(shape, ignore=4))


def test_negative_log_likelihood_opset_12_matches_onnxruntime(tmp_path):
    shape = (2, 4, 3, 2)
    model = _loss_model("NegativeLogLikelihoodLoss", 12, shape, weighted=True,
                        reduction="mean", ignore_index=-1)
    convert_and_compare(model, tmp_path, _feeds(shape, ignore=-1))


def test_classes_known_at_run_time_only(tmp_path):
    """A dynamic class axis: the OneHot depth comes from ShapeOf at run time."""
    model = _loss_model("SoftmaxCrossEntropyLoss", 13, ("N", "C"), reduction="mean")
    convert_and_compare(model, tmp_path, _feeds((4, 6)))


def test_constant_inputs_fold_to_a_constant(tmp_path):
    shape = (2, 3)
    feeds = _feeds(shape)
    model = _loss_model("NegativeLogLikelihoodLoss", 13, shape, weighted=True, reduction="sum")
    for name in ("scores", "target", "weight"):
        model.graph.initializer.append(onnx.numpy_helper.from_array(feeds[name], name))
    del model.graph.input[:]
    xml = convert_and_compare(model, tmp_path, {})
    assert not {"OneHot", "Select", "Gather", "ReduceSum"} & set(ir_layer_types(xml))
    expected = -sum(feeds["scores"][i, t] * feeds["weight"][t] for i, t in
                    enumerate(feeds["target"]))
    assert np.isclose(run_openvino(xml, {})["loss"], expected, rtol=1e-5)


def test_unknown_reduction_is_refused_by_name(tmp_path):
    model = _loss_model("NegativeLogLikelihoodLoss", 13, (2, 3), reduction="max")
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match=r"NegativeLogLikelihoodLoss node 'loss_node'.*"
                                             r"reduction 'max'"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")
