"""Reference runners: the source model run in its own framework, to check an IR against.

Nothing here shares code with the converter: a bug there must not hide itself by being
repeated on the reference side. ONNX runs in onnxruntime (`onnx.reference` when onnxruntime
refuses the model); TensorFlow models run in TensorFlow itself: frozen and text GraphDefs and
checkpoints in a v1 session, SavedModels as saved (their signature, or a v1 session for a TF1
SavedModel whose signature cannot be called). TensorFlow's kinds live in `_tf_references`.

numpy, onnx, onnxruntime and TensorFlow are imported inside the functions only.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import VerifierUnavailable
from .source import SourceModel, TensorInfo

VERIFY_EXTRA = "install the project's verify extra (pip install 'modelzoo-ir[verify]')"
_IR_LIMIT = re.compile(r"max supported IR version: (\d+)")
# onnxruntime prefixes its messages with a status and the C++ function that raised them.
_NATIVE_NOISE = re.compile(r"\[ONNXRuntimeError\] : \d+ : \w+ : "
                           r"|\S+\.(?:h|cc|cpp):\d+ .*?\)\s+(?=[A-Z])")
# VERSION_TABLE rows are (release, IR version, ai.onnx, ai.onnx.ml, ai.onnx.training opsets).
_OPSET_COLUMN = {"": 2, "ai.onnx": 2, "ai.onnx.ml": 3, "ai.onnx.training": 4}


def open_reference(source: SourceModel):
    """The source model loaded once in its framework's runtime, ready to `run` many times."""
    if source.kind == "onnx":
        return OnnxReference(source)
    from . import _tf_references

    return _tf_references.open_tf_reference(source)


def import_runtime(module: str, source: SourceModel):
    """`module` imported; VerifierUnavailable naming the model when it is not installed."""
    import importlib

    try:
        if module == "tensorflow":
            from ..runtime import import_tensorflow

            return import_tensorflow()
        return importlib.import_module(module)
    except ImportError:
        raise VerifierUnavailable(f"{module} is not installed, so {source.path} cannot be run "
                                  f"as the reference; {VERIFY_EXTRA}") from None


def round_to_fp16(array):
    """`array` rounded to float16 and back to its own dtype (other dtypes: unchanged)."""
    import numpy as np

    if not np.issubdtype(array.dtype, np.floating) or array.dtype == np.float16:
        return array
    return array.astype(np.float16).astype(array.dtype)


def feeds_by_name(inputs: list[TensorInfo], feeds: dict, where: Path) -> dict:
    """`feeds` keyed by each input's `name`, whichever of its names the caller used."""
    resolved = {}
    for info in inputs:
        key = info.name if info.name in feeds else next(
            (name for name in sorted(info.aliases) if name in feeds), None)
        if key is None:
            raise ValueError(f"{where}: no value fed for input {info.name!r} "
                             f"(fed: {', '.join(sorted(feeds)) or 'nothing'})")
        resolved[info.name] = feeds[key]
    return resolved


def first_line(exc: BaseException, limit: int = 300) -> str:
    """A library error reduced to one line that fits a report."""
    text = _NATIVE_NOISE.sub("", " ".join(str(exc).split())) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


# -- ONNX --------------------------------------------------------------------------------------
class OnnxReference:
    """An ONNX model in onnxruntime (CPU), lowered to an IR version it accepts when needed,
    else in `onnx.reference`."""

    def __init__(self, source: SourceModel, fp16_weights: bool = False):
        self.source, self.fp16_weights = source, fp16_weights
        onnx = import_runtime("onnx", source)
        model = _load_onnx(onnx, source.path)
        if source.outputs:
            _expose_outputs(onnx, model, source.outputs, source.path)
        if fp16_weights:
            _round_model_weights(model)
        initializers = {tensor.name for tensor in model.graph.initializer}
        self.inputs = [_value_info(onnx, value) for value in model.graph.input
                       if value.name not in initializers]
        self.outputs = [_value_info(onnx, value) for value in model.graph.output]
        self._model, self._session, self._evaluator = model, None, None
        ort = import_runtime("onnxruntime", source)
        try:
            self._session, how = _onnxruntime_session(ort, model)
            self.runtime, self.version, self.detail = "onnxruntime", ort.__version__, how
        except Exception as exc:  # noqa: BLE001 - onnxruntime's errors have no common base
            self._use_onnx_reference(f"onnxruntime {ort.__version__} refused it: "
                                     f"{first_line(exc)}")

    def with_fp16_weights(self) -> "OnnxReference":
        return OnnxReference(self.source, fp16_weights=True)

    def run(self, feeds: dict) -> dict:
        feeds = feeds_by_name(self.inputs, feeds, self.source.path)
        names = [info.name for info in self.outputs]
        if self._session is not None:
            try:
                return dict(zip(names, self._session.run(names, feeds)))
            except Exception as exc:  # noqa: BLE001
                if "NOT_IMPLEMENTED" not in str(exc):
                    raise VerifierUnavailable(f"{self.source.path}: onnxruntime failed to run "
                                              f"the model: {first_line(exc)}") from None
                self._use_onnx_reference(f"onnxruntime cannot run it: {first_line(exc)}")
        try:
            return dict(zip(names, self._evaluator.run(names, feeds)))
        except Exception as exc:  # noqa: BLE001
            raise VerifierUnavailable(f"{self.source.path}: onnx.reference failed to run the "
                                      f"model: {first_line(exc)}") from None

    def _use_onnx_reference(self, why: str) -> None:
        onnx = import_runtime("onnx", self.source)
        from onnx.reference import ReferenceEvaluator

        try:
            self._evaluator = ReferenceEvaluator(self._model)
        except Exception as exc:  # noqa: BLE001
            raise VerifierUnavailable(f"{self.source.path}: no runtime can load it ({why}; "
                                      f"onnx.reference: {first_line(exc)})") from None
        self._session = None
        self.runtime, self.version = "onnx.reference", onnx.__version__
        self.detail = f"{why}; ran in onnx.reference"


def _load_onnx(onnx, path: Path):
    """The model with its external data, read from the model file's folder."""
    try:
        return onnx.load(str(path), load_external_data=True)
    except Exception as exc:  # noqa: BLE001 - protobuf, OSError, a missing external file
        raise VerifierUnavailable(f"{path}: cannot be read as an ONNX model "
                                  f"({first_line(exc)}); check the file is complete") from None


def _onnxruntime_session(ort, model):
    """A CPU session and how it was made; a model whose IR version onnxruntime is too old for
    runs as a copy declaring the lowest IR version that still covers its opset imports."""
    options = ort.SessionOptions()
    options.log_severity_level = 3

    def session_of(proto):
        return ort.InferenceSession(proto.SerializeToString(), options,
                                    providers=["CPUExecutionProvider"])

    try:
        return session_of(model), f"IR version {model.ir_version} loaded as is"
    except Exception as exc:  # noqa: BLE001
        limit = _IR_LIMIT.search(str(exc))
        lowered = lowest_ir_version(model)
        if limit is None or lowered is None or lowered > int(limit.group(1)):
            raise
    copy = type(model)()
    copy.CopyFrom(model)
    copy.ir_version = lowered
    return session_of(copy), f"IR version {model.ir_version} loaded as {lowered}"


def lowest_ir_version(model) -> int | None:
    """The lowest IR version whose release supports every opset the model imports (None when
    no release does); opsets of other domains put no bound on it."""
    from onnx.helper import VERSION_TABLE

    needed = 8 if len(model.functions) else 3  # model-local functions came with IR 8
    for opset in model.opset_import:
        column = _OPSET_COLUMN.get(opset.domain)
        if column is None:
            continue
        fits = [row[1] for row in VERSION_TABLE if row[column] >= opset.version]
        if not fits:
            return None
        needed = max(needed, min(fits))
    return needed


def _expose_outputs(onnx, model, names: tuple[str, ...], path: Path) -> None:
    """Make the tensors `names` (mo's --output, maybe inner tensors) the graph's outputs."""
    graph = model.graph
    produced = {name for node in graph.node for name in node.output}
    produced |= {value.name for value in graph.input}
    missing = [name for name in names if name not in produced]
    if missing:
        raise VerifierUnavailable(f"{path}: --output {', '.join(missing)} names no tensor of "
                                  f"the model; name a node output of the ONNX graph")
    known = {value.name: value for value in [*graph.value_info, *graph.output]}
    if any(name not in known for name in names):
        try:
            inferred = onnx.shape_inference.infer_shapes(model).graph
            known.update({value.name: value for value in inferred.value_info})
        except Exception:  # noqa: BLE001 - types then stay unknown; the runtime still runs
            pass
    chosen = [known.get(name) or onnx.helper.make_empty_tensor_value_info(name)
              for name in names]
    del graph.output[:]
    graph.output.extend(chosen)


def _round_model_weights(model) -> None:
    """Float initializers and Constant tensors, in subgraphs and model functions too, rounded
    to fp16."""
    _round_graph_weights(model.graph)
    for function in model.functions:
        _round_constants(function.node)


def _round_graph_weights(graph) -> None:
    for tensor in graph.initializer:
        _round_tensor(tensor)
    _round_constants(graph.node)


def _round_constants(nodes) -> None:
    import numpy as np

    for node in nodes:
        for attribute in node.attribute:
            if node.op_type == "Constant" and attribute.name == "value":
                _round_tensor(attribute.t)
            elif node.op_type == "Constant" and attribute.name == "value_float":
                attribute.f = float(np.float16(attribute.f))
            elif node.op_type == "Constant" and attribute.name == "value_floats":
                attribute.floats[:] = np.asarray(attribute.floats, np.float16).tolist()
            for subgraph in [*([attribute.g] if attribute.HasField("g") else []),
                             *attribute.graphs]:
                _round_graph_weights(subgraph)


def _round_tensor(tensor) -> None:
    from onnx import numpy_helper

    array = numpy_helper.to_array(tensor)
    rounded = round_to_fp16(array)
    if rounded is not array:
        tensor.CopyFrom(numpy_helper.from_array(rounded, tensor.name))


def _value_info(onnx, value) -> TensorInfo:
    """An ONNX graph input or output as TensorInfo (symbolic and unset dims are None)."""
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        return TensorInfo(value.name, kind or "unknown")
    tensor_type = value.type.tensor_type
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name
    except KeyError:
        dtype = "unknown"
    shape = None
    if tensor_type.HasField("shape"):
        shape = tuple(dim.dim_value if dim.HasField("dim_value") else None
                      for dim in tensor_type.shape.dim)
    return TensorInfo(value.name, dtype, shape)
