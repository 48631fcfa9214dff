"""Every error names the model, the stage and (where there is one) the node, and says whose
fault it is: a UserInputError for what the model or flags must change, an InternalError for a
converter bug. A bug is injected at each stage (a frontend handler, a pass, constant folding,
the IR writer) and the error it becomes is read through its fields and its text."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import converter
from converter.errors import (ConversionError, InternalError, NodeRef, ShapeMismatchError,
                              UnsupportedOpsError, UserInputError)
from converter.graph import Graph
from converter.ir.writer import write_ir
from converter.options import ConversionOptions
from converter.passes import run_passes
from test_bad_models import frozen_graph_bytes
from tinymodels import conv_weights, write_onnx_conv_relu

BUG = "converter bug"


def conversion_error(model: Path, tmp_path: Path, **flags) -> ConversionError:
    with pytest.raises(ConversionError) as caught:
        converter.convert(model, output_dir=tmp_path / "out", **flags)
    return caught.value


def internal_error(model: Path, tmp_path: Path, **flags) -> InternalError:
    error = conversion_error(model, tmp_path, **flags)
    assert isinstance(error, InternalError), repr(error)
    assert BUG in str(error)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return error


def user_error(model: Path, tmp_path: Path, **flags) -> UserInputError:
    error = conversion_error(model, tmp_path, **flags)
    assert isinstance(error, UserInputError) and not isinstance(error, InternalError), repr(error)
    assert BUG not in str(error)
    return error


@pytest.fixture
def onnx_model(tmp_path) -> Path:
    return write_onnx_conv_relu(tmp_path / "net.onnx", *conv_weights())


@pytest.fixture
def tf_model(tmp_path) -> Path:
    path = tmp_path / "relu.pb"
    path.write_bytes(frozen_graph_bytes())  # Placeholder "x" -> Relu "y"
    return path


def write_onnx(path: Path, node, input_shape, output_shape, initializers=None) -> Path:
    from onnx_testing import FLOAT, make_model

    model = make_model([node], {"x": (input_shape, FLOAT)}, {"y": (output_shape, FLOAT)}, 13,
                       initializers)
    path.write_bytes(model.SerializeToString())
    return path


def unsupported_model(tmp_path: Path) -> Path:
    from onnx import helper

    return write_onnx(tmp_path / "decoder.onnx", helper.make_node("ImageDecoder", ["x"], ["y"], name="the_decoder"),
                      [1, 4], [1, 4])


def broken(exception: BaseException):
    def fail(*args, **kwargs):
        raise exception
    return fail


def replace_handler(monkeypatch, registry, op: str, handler) -> None:
    monkeypatch.setitem(registry._handlers, op, [(1, handler)])


# -- frontends -------------------------------------------------------------------------------
def test_a_tf_handler_raising_value_error_is_internal_and_names_the_tf_node(monkeypatch, tmp_path,
                                                                            tf_model):
    from converter.frontends.tf.handlers import registry

    replace_handler(monkeypatch, registry, "Relu", broken(ValueError("boom")))
    error = internal_error(tf_model, tmp_path)
    assert (error.stage, error.node, error.model) == ("frontend tf", NodeRef("Relu", "y"), str(tf_model))
    text = str(error)
    assert text.startswith(f"{tf_model}, frontend tf, Relu node 'y': ")
    assert "ValueError: boom" in text and "\n" not in text
    assert isinstance(error.__cause__, ValueError)


def test_an_onnx_handler_raising_key_error_is_internal_and_names_the_onnx_node(monkeypatch, tmp_path,
                                                                              onnx_model):
    from converter.frontends.onnx.handlers import registry

    replace_handler(monkeypatch, registry, "Relu", broken(KeyError("missing")))
    error = internal_error(onnx_model, tmp_path)
    assert error.stage == "frontend onnx" and error.node.op == "Relu"
    assert error.node.name in str(error) and "KeyError" in str(error)
    assert str(onnx_model) in str(error)


def test_a_user_error_inside_a_handler_stays_the_users_and_gains_the_location(monkeypatch, tmp_path,
                                                                             tf_model):
    from converter.frontends.tf.handlers import registry

    def needs_constant(ctx):
        raise ctx.error("its alpha must be constant")

    replace_handler(monkeypatch, registry, "Relu", needs_constant)
    error = user_error(tf_model, tmp_path)
    assert (error.stage, error.node) == ("frontend tf", NodeRef("Relu", "y"))
    assert str(error) == f"{tf_model}, frontend tf, Relu node 'y': its alpha must be constant"


def test_an_unsupported_op_stays_a_user_error(tmp_path):
    model = unsupported_model(tmp_path)
    error = user_error(model, tmp_path)
    assert isinstance(error, UnsupportedOpsError)
    assert error.stage == "frontend onnx" and error.model == str(model)
    assert "the_decoder" in str(error) and "ImageDecoder" in str(error) and str(model) in str(error)


def test_a_shape_mismatch_the_model_declares_stays_a_user_error(tmp_path):
    from onnx import helper

    model = write_onnx(tmp_path / "mm.onnx", helper.make_node("MatMul", ["x", "w"], ["y"], name="the_matmul"),
                       [1, 4], [1, 2], {"w": np.ones((5, 2), np.float32)})
    error = user_error(model, tmp_path)
    assert isinstance(error, ShapeMismatchError)
    assert (error.stage, error.node) == ("frontend onnx", NodeRef("MatMul", "the_matmul"))
    assert "Check the model and any --input_shape" in str(error)


def test_a_bad_input_shape_stays_a_user_error(tmp_path, onnx_model):
    error = user_error(onnx_model, tmp_path, input_shape="[1,3,8]")
    assert "--input_shape" in str(error) and error.model == str(onnx_model)


def test_a_malformed_flag_names_the_model_and_the_flag(tmp_path, onnx_model):
    error = user_error(onnx_model, tmp_path, input_shape="[1,3,,8]")
    assert str(error).startswith(f"{onnx_model}: flag input_shape:")


# -- passes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("exception", [ValueError("bad axis"), FloatingPointError("overflow"),
                                       MemoryError(), AttributeError("no attribute 'value'")])
def test_a_pass_raising_is_internal_and_names_the_pass(monkeypatch, tmp_path, onnx_model, exception):
    from converter.passes import transpose_sinking

    monkeypatch.setattr(transpose_sinking, "run", broken(exception))
    error = internal_error(onnx_model, tmp_path)
    assert error.stage == "pass transpose_sinking" and error.node is None
    assert type(exception).__name__ in str(error)
    assert str(error).startswith(f"{onnx_model}, pass transpose_sinking: ")


def test_a_user_error_raised_by_a_pass_stays_the_users_with_the_pass_named(tmp_path, onnx_model):
    error = user_error(onnx_model, tmp_path, mean_values=[1.0, 2.0])
    assert error.stage == "pass preprocessing" and "mean_values" in str(error)


def folding_graph() -> Graph:
    g = Graph()
    x = g.parameter("x", (1, 4), "f32")
    zero = g.const(np.zeros(4, np.float32), name="zeros")
    ratio = g.op("Divide", g.const(np.ones(4, np.float32), name="ones"), zero,
                 name="the_divide", auto_broadcast="numpy")
    g.result(g.op("Add", x, ratio, name="add", auto_broadcast="numpy"), "y")
    return g


def test_constant_folding_hitting_a_numpy_error_is_internal_and_names_the_node():
    with np.errstate(divide="raise"), pytest.raises(InternalError) as caught:
        run_passes(folding_graph(), ConversionOptions())
    error = caught.value
    assert (error.stage, error.node) == ("pass constant_folding", NodeRef("Divide", "the_divide"))
    assert "FloatingPointError" in str(error) and "the_divide" in str(error)
    assert isinstance(error.__cause__, FloatingPointError)


def test_constant_folding_wraps_any_evaluation_error(monkeypatch):
    from converter.ops import spec

    monkeypatch.setattr(spec("Divide"), "evaluate", staticmethod(broken(ValueError("shapes"))))
    with pytest.raises(InternalError) as caught:
        run_passes(folding_graph(), ConversionOptions())
    assert caught.value.node == NodeRef("Divide", "the_divide")
    assert "ValueError: shapes" in str(caught.value)


def test_shapes_a_pass_broke_are_internal_not_a_shape_mismatch(monkeypatch, tmp_path, onnx_model):
    """The graph's shapes fitted before the pass: a mismatch after it is the pass's bug."""
    from converter.passes import transpose_sinking

    def cut_the_weights(graph, options):
        conv = next(n for n in graph.nodes() if n.op == "Convolution")
        conv.inputs[1] = graph.const(np.ones((2, 7, 3, 3), np.float32), name="wrong_weights")
        return 1

    monkeypatch.setattr(transpose_sinking, "run", cut_the_weights)
    error = internal_error(onnx_model, tmp_path)
    assert not isinstance(error, UserInputError)
    assert error.stage == "pass transpose_sinking" and error.node.op == "Convolution"
    assert "do not fit" in str(error) and "--input_shape" not in str(error)


# -- the writer ------------------------------------------------------------------------------
def relu_graph() -> Graph:
    g = Graph()
    g.result(g.op("ReLU", g.parameter("x", (1, 4), "f32"), name="the_relu"), "y")
    return g


def test_the_writer_meeting_an_unknown_attribute_names_the_node(tmp_path):
    graph = relu_graph()
    graph.results[0].inputs[0].node.attrs["alpha"] = 0.1
    with pytest.raises(InternalError) as caught:
        write_ir(graph, tmp_path / "m.xml")
    assert caught.value.node == NodeRef("ReLU", "the_relu")
    assert "attributes ['alpha']" in str(caught.value) and BUG in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_the_writer_meeting_an_attribute_of_an_unknown_type_is_internal_with_its_stage(
        monkeypatch, tmp_path, onnx_model):
    from converter.passes import compress_fp16

    def spoil_an_attribute(graph, options):
        conv = next(n for n in graph.nodes() if n.op == "Convolution")
        conv.attrs["auto_pad"] = {"mode": "explicit"}  # shape inference reads it as explicit
        return 1

    monkeypatch.setattr(compress_fp16, "run", spoil_an_attribute)
    error = internal_error(onnx_model, tmp_path)
    assert error.stage == "writer" and error.node.op == "Convolution"
    assert "'auto_pad'" in str(error) and "dict" in str(error)


def test_an_unexpected_writer_exception_is_internal_with_its_stage(monkeypatch, tmp_path, onnx_model):
    from converter.ir import writer

    monkeypatch.setattr(writer, "build_xml", broken(RecursionError("too deep")))
    error = internal_error(onnx_model, tmp_path)
    assert error.stage == "writer" and "RecursionError: too deep" in str(error)
    assert str(error).startswith(f"{onnx_model}, writer: writing the IR raised")


def test_a_write_failure_stays_an_os_error(monkeypatch, tmp_path, onnx_model):
    """A full disk or a read-only folder is the environment's, and callers read its errno."""
    import errno

    from converter.ir import writer

    monkeypatch.setattr(writer, "build_xml", broken(OSError(errno.ENOSPC, "No space left")))
    with pytest.raises(OSError) as caught:
        converter.convert(onnx_model, output_dir=tmp_path / "out")
    assert caught.value.errno == errno.ENOSPC and not isinstance(caught.value, ConversionError)


# -- the error values themselves ---------------------------------------------------------------
def test_fields_survive_pickling():
    error = InternalError("it broke", stage="pass x", node=NodeRef("Add", "a"), model="m.onnx")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InternalError and str(copy) == str(error)
    assert (copy.stage, copy.node, copy.model) == ("pass x", NodeRef("Add", "a"), "m.onnx")


def test_the_location_is_not_repeated_when_the_detail_already_names_it():
    error = UserInputError("m.onnx: no such file", model="m.onnx", stage="frontend onnx")
    assert str(error) == "frontend onnx: m.onnx: no such file"
    assert str(UserInputError("a pass failed", stage="pass x")) == "pass x: a pass failed"


# -- the command line ------------------------------------------------------------------------
def run_cli(*args: str, inject: str = "") -> subprocess.CompletedProcess:
    """`python -m converter ARGS`, after running `inject` (Python) in the same process."""
    code = f"import sys\n{inject}\nfrom converter.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120)


BROKEN_PASS = ("import converter.passes.transpose_sinking as p\n"
               "def run(graph, options):\n"
               "    raise ValueError('the pass broke')\n"
               "p.run = run")


def test_the_cli_reports_an_internal_error_with_exit_2_and_no_traceback(tmp_path, onnx_model):
    run = run_cli("--input_model", str(onnx_model), "--output_dir", str(tmp_path / "out"),
                  inject=BROKEN_PASS)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"[ ERROR ] {onnx_model}, pass transpose_sinking: ")
    assert "ValueError: the pass broke" in run.stderr and BUG in run.stderr
    assert "Traceback" not in run.stderr and run.stderr.count("[ ERROR ]") == 1


def test_the_cli_reports_a_user_error_with_exit_1_and_no_traceback(tmp_path):
    model = unsupported_model(tmp_path)
    run = run_cli("--input_model", str(model), "--output_dir", str(tmp_path / "out"))
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith(f"[ ERROR ] {model}, frontend onnx: ")
    assert "the_decoder" in run.stderr and BUG not in run.stderr and "Traceback" not in run.stderr


def test_the_cli_shows_the_traceback_at_debug_level(tmp_path, onnx_model):
    run = run_cli("--input_model", str(onnx_model), "--output_dir", str(tmp_path / "out"),
                  "--log_level", "DEBUG", inject=BROKEN_PASS)
    assert run.returncode == 2
    assert "Traceback" in run.stderr and "[ ERROR ]" in run.stderr


def test_the_cli_reports_an_os_error_with_exit_1(tmp_path, onnx_model):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    run = run_cli("--input_model", str(onnx_model), "--output_dir", str(blocked / "out"))
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("[ ERROR ] ") and "Traceback" not in run.stderr
