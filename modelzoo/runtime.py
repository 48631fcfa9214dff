"""Running models for verification: the IR in OpenVINO, the source in onnxruntime or TensorFlow.

Every function imports its runtime on call, so nothing here costs an import until it runs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# OpenVINO's CPU plugin computes in bf16 by default on CPUs that have it; numbers are only
# comparable with the source framework when it is told to keep f32.
F32_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


def import_openvino():
    """`openvino`, imported so that the process still exits cleanly under doit.

    openvino pulls in absl, whose logging handler binds the current sys.stderr; under doit that
    is a capture object without `close`, and logging's shutdown at exit prints a traceback.
    Pointing the handler at the real stderr avoids it."""
    import sys

    import openvino

    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        handler = absl_logging.get_absl_handler().python_handler
        if not hasattr(handler.stream, "close"):
            handler.stream = sys.__stderr__
    return openvino


def run_openvino(xml_path: str | Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Compile the IR on CPU (f32) and run it; outputs keyed by every name of each output."""
    ov = import_openvino()

    core = ov.Core()
    model = core.read_model(str(xml_path))
    compiled = core.compile_model(model, "CPU", F32_CONFIG)
    wanted = {p.get_any_name() for p in compiled.inputs}
    results = compiled({name: value for name, value in feeds.items() if name in wanted})
    out = {}
    for port, value in results.items():
        for name in port.get_names():
            out[name] = np.asarray(value)
    return out


def run_onnxruntime(model_path: str | Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    wanted = {i.name for i in session.get_inputs()}
    values = session.run(names, {k: v for k, v in feeds.items() if k in wanted})
    return dict(zip(names, values))


def run_tf_graph(pb_path: str | Path, feeds: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
    """Run a frozen GraphDef in TensorFlow; feeds and outputs are tensor names (`x:0`)."""
    from converter.frontends.tf.freeze import import_tensorflow

    tf = import_tensorflow()

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(Path(pb_path).read_bytes())
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            values = session.run(outputs, {name: value for name, value in feeds.items()})
    return dict(zip(outputs, values))


def import_tensorflow():
    """TensorFlow, imported without its C++ INFO/WARNING lines on stderr (they would drown a
    build log); an explicit TF_CPP_MIN_LOG_LEVEL from the user still wins."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow

    return tensorflow
