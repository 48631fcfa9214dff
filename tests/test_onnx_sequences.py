"""Sequences and optionals, kept in the frontend as static tuples of tensors: the node
conformance cases of the Sequence*, SplitToSequence, ConcatFromSequence, SequenceMap and
Optional* operators, the `simple` suite's sequence models, targeted models for what those
miss, and the errors for what IR cannot hold (a sequence or optional as a model input or
output, a position that depends on the model's inputs)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from bench.conformance_cases import collect
from bench.conformance_check import check
from converter import convert
from converter.errors import UserInputError
from tests.onnx_conformance_cases import assert_conforms, case_id, cases_of
from tests.onnx_testing import FLOAT, convert_and_compare, ir_layer_types, make_model

OPERATORS = ("SequenceConstruct", "SequenceEmpty", "SequenceAt", "SequenceInsert",
             "SequenceErase", "SequenceLength", "SplitToSequence", "ConcatFromSequence",
             "SequenceMap", "Optional", "OptionalHasElement", "OptionalGetElement")

# Cases whose model reads or writes a sequence or optional: IR inputs and outputs are tensors,
# so each must fail at convert, saying so.
MODEL_INPUT = "is a sequence, which OpenVINO IR cannot hold"
NO_IR_FORM = {
    "test_sequence_insert_at_back": MODEL_INPUT,
    "test_sequence_insert_at_front": MODEL_INPUT,
    "test_split_to_sequence_2": "model output 'seq' is a sequence",
    "test_split_to_sequence_nokeepdims": "model output 'seq' is a sequence",
    # its split size is a model input, and its output a sequence: the size is found first
    "test_split_to_sequence_1": "split size (input 1) must be constant",
    "test_optional_get_element_sequence": MODEL_INPUT,
    "test_optional_get_element_optional_sequence": "is an optional, which OpenVINO IR",
    "test_optional_get_element_optional_tensor": "is an optional, which OpenVINO IR",
    "test_optional_has_element_optional_input": "is an optional, which OpenVINO IR",
    "test_optional_has_element_tensor_input": "is an optional, which OpenVINO IR",
    "test_optional_has_element_empty_optional_input": "is an optional, which OpenVINO IR",
}
NO_IR_FORM.update({case.name: MODEL_INPUT for case in cases_of("SequenceMap")})

PASSING = [case for case in cases_of(*OPERATORS) if case.name not in NO_IR_FORM]


@pytest.mark.parametrize("case", PASSING, ids=case_id)
def test_conformance(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", cases_of(*OPERATORS, exclude=tuple(c.name for c in PASSING)),
                         ids=case_id)
def test_cases_without_ir_form_fail_clearly_at_convert(case):
    outcome = check(case, "ours")
    assert not outcome.passed and outcome.stage == "convert"
    assert "UserInputError" in outcome.error and NO_IR_FORM[case.name] in outcome.error
    assert " node '" in outcome.error  # names the node that reads or makes the value


@pytest.mark.parametrize("case", collect(("simple",), only="^test_sequence_model"), ids=case_id)
def test_simple_suite_sequence_models(case):
    assert_conforms(case)


def test_identity_of_a_sequence_input_is_a_clear_error():
    case = [c for c in cases_of("Identity") if c.name == "test_identity_sequence"][0]
    outcome = check(case, "ours")
    assert outcome.stage == "convert" and "Identity node 'y'" in outcome.error
    assert MODEL_INPUT in outcome.error


# -- targeted models ---------------------------------------------------------------------------
def feeds_of(**arrays):
    return {name: np.asarray(value, np.float32) for name, value in arrays.items()}


def test_insert_erase_at_with_negative_positions(tmp_path):
    """[a, b] -> insert c at -1 -> [a, c, b] -> erase -3 -> [c, b] -> at -2 is c."""
    nodes = [helper.make_node("SequenceConstruct", ["a", "b"], ["s1"]),
             helper.make_node("SequenceInsert", ["s1", "c", "minus1"], ["s2"]),
             helper.make_node("SequenceErase", ["s2", "minus3"], ["s3"]),
             helper.make_node("SequenceAt", ["s3", "minus2"], ["y"]),
             helper.make_node("SequenceLength", ["s3"], ["n"])]
    model = make_model(nodes, {k: ((2,), FLOAT) for k in "abc"},
                       {"y": ((2,), FLOAT), "n": ((), TensorProto.INT64)}, 12,
                       {"minus1": np.array(-1, np.int64), "minus3": np.array(-3, np.int64),
                        "minus2": np.array(-2, np.int64)})
    convert_and_compare(model, tmp_path, feeds_of(a=[1, 2], b=[3, 4], c=[5, 6]))


@pytest.mark.parametrize("new_axis", [0, 1])
def test_split_in_uneven_chunks_then_concat(tmp_path, new_axis):
    """A scalar split size of 2 over 5 columns: parts of 2, 2, 1; concatenated back, or (with
    keepdims parts of 1) stacked on a new axis."""
    split = helper.make_node("SplitToSequence", ["x", "size"] if not new_axis else ["x"], ["s"],
                             axis=1, **({"keepdims": 0} if new_axis else {}))
    concat = helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=-1, new_axis=new_axis)
    model = make_model([split, concat], {"x": ((3, 5), FLOAT)}, {"y": (None, FLOAT)}, 12,
                       {"size": np.array(2, np.int64)})
    convert_and_compare(model, tmp_path, feeds_of(x=np.arange(15).reshape(3, 5)))


def test_sequence_map_with_a_tensor_input_is_inlined_per_position(tmp_path):
    body = helper.make_graph([helper.make_node("Add", ["item", "bias"], ["out"])], "body",
                             [helper.make_tensor_value_info("item", FLOAT, [2]),
                              helper.make_tensor_value_info("bias", FLOAT, [2])],
                             [helper.make_tensor_value_info("out", FLOAT, [2])])
    nodes = [helper.make_node("SequenceConstruct", ["a", "b"], ["s"]),
             helper.make_node("SequenceMap", ["s", "bias"], ["mapped"], body=body),
             helper.make_node("ConcatFromSequence", ["mapped"], ["y"], axis=0, new_axis=1)]
    model = make_model(nodes, {"a": ((2,), FLOAT), "b": ((2,), FLOAT), "bias": ((2,), FLOAT)},
                       {"y": ((2, 2), FLOAT)}, 17)
    xml = convert_and_compare(model, tmp_path, feeds_of(a=[1, 2], b=[3, 4], bias=[10, 20]))
    assert ir_layer_types(xml).count("Add") == 2


def test_optionals_known_at_conversion(tmp_path):
    """An optional holding x gives x back; an empty one reports no element."""
    nodes = [helper.make_node("Optional", ["x"], ["full"]),
             helper.make_node("Optional", [], ["empty"], type=helper.make_tensor_type_proto(FLOAT, [2])),
             helper.make_node("OptionalGetElement", ["full"], ["y"]),
             helper.make_node("OptionalHasElement", ["empty"], ["has"])]
    model = make_model(nodes, {"x": ((2,), FLOAT)},
                       {"y": ((2,), FLOAT), "has": ((), TensorProto.BOOL)}, 18)
    convert_and_compare(model, tmp_path, feeds_of(x=[1, 2]))


def test_if_with_a_constant_condition_may_yield_a_sequence(tmp_path):
    def branch(name, items):
        nodes = [helper.make_node("SequenceConstruct", items, [f"{name}_seq"])]
        graph = helper.make_graph(nodes, name, [], [])
        graph.output.append(helper.make_tensor_sequence_value_info(f"{name}_seq", FLOAT, None))
        return graph
    nodes = [helper.make_node("If", ["cond"], ["s"], then_branch=branch("then", ["a", "b"]),
                              else_branch=branch("else", ["b"])),
             helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0)]
    model = make_model(nodes, {"a": ((2,), FLOAT), "b": ((2,), FLOAT)}, {"y": (None, FLOAT)}, 13,
                       {"cond": np.array(True)})
    convert_and_compare(model, tmp_path, feeds_of(a=[1, 2], b=[3, 4]))


def convert_error(tmp_path, model) -> str:
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(UserInputError) as info:
        convert(tmp_path / "m.onnx", output_dir=tmp_path, model_name="m")
    return str(info.value)


def test_position_from_the_model_inputs_is_a_clear_error(tmp_path):
    nodes = [helper.make_node("SequenceConstruct", ["a", "b"], ["s"]),
             helper.make_node("SequenceAt", ["s", "i"], ["y"], name="pick")]
    model = make_model(nodes, {"a": ((2,), FLOAT), "b": ((2,), FLOAT), "i": ((), TensorProto.INT64)},
                       {"y": ((2,), FLOAT)}, 12)
    message = convert_error(tmp_path, model)
    assert "SequenceAt node 'pick'" in message and "position" in message and "constant" in message


def test_out_of_range_position_is_a_clear_error(tmp_path):
    nodes = [helper.make_node("SequenceConstruct", ["a"], ["s"]),
             helper.make_node("SequenceAt", ["s", "i"], ["y"], name="pick")]
    model = make_model(nodes, {"a": ((2,), FLOAT)}, {"y": ((2,), FLOAT)}, 12,
                       {"i": np.array(3, np.int64)})
    assert "position 3 is out of range" in convert_error(tmp_path, model)


def test_empty_optional_read_is_a_clear_error(tmp_path):
    nodes = [helper.make_node("Optional", [], ["empty"], type=helper.make_tensor_type_proto(FLOAT, [2])),
             helper.make_node("OptionalGetElement", ["empty"], ["y"], name="get")]
    model = make_model(nodes, {"x": ((2,), FLOAT)}, {"y": ((2,), FLOAT)}, 18)
    message = convert_error(tmp_path, model)
    assert "OptionalGetElement node 'get'" in message and "empty" in message
