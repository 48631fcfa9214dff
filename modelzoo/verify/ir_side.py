"""The IR's side of verification: OpenVINO reads it, infers its shapes, and runs it.

OpenVINO is the IR's real consumer, so it is the judge of what the IR computes: the model is
compiled on CPU with `INFERENCE_PRECISION_HINT=f32` (the CPU would otherwise compute in bf16
where it can, see `modelzoo.runtime.F32_CONFIG`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import VerifierUnavailable


def openvino_module():
    """`openvino`, or a `VerifierUnavailable` that says how to get it."""
    try:
        from ..runtime import import_openvino

        return import_openvino()
    except ImportError as exc:
        raise VerifierUnavailable(f"OpenVINO cannot be imported ({exc}); install the project's "
                                  f"verify extra (pip install -e '.[verify]')") from None


def port_names(port) -> frozenset[str]:
    return frozenset(port.get_names())


def port_dtype(port) -> str:
    import numpy as np

    return np.dtype(port.get_element_type().to_dtype()).name


def port_shape(port) -> list[int | None] | None:
    """The port's dims, None for a dynamic one; None for a dynamic rank."""
    shape = port.get_partial_shape()
    if shape.rank.is_dynamic:
        return None
    return [d.get_length() if d.is_static else None for d in shape]


LATENCY_RUNS = 5


def run(model, feeds: dict[int, Any]) -> tuple[list[Any], float]:
    """Compile `model` on CPU (f32) and run it on feeds by input index: the outputs by index,
    and the median latency in ms of a few more synchronous runs (the first one warms up)."""
    import statistics
    import time

    import numpy as np

    from ..runtime import F32_CONFIG

    ov = openvino_module()
    compiled = ov.Core().compile_model(model, "CPU", F32_CONFIG)
    request = compiled.create_infer_request()
    inputs = {compiled.inputs[i]: value for i, value in feeds.items()}
    results = request.infer(inputs)
    outputs = [np.array(results[port]) for port in compiled.outputs]
    times = []
    for _ in range(LATENCY_RUNS):
        started = time.perf_counter()
        request.infer(inputs)
        times.append((time.perf_counter() - started) * 1000)
    return outputs, round(statistics.median(times), 3)


def shape_mismatches(model, xml_path: Path) -> list[str]:
    """Ports whose dims in the XML differ from the shape OpenVINO infers, one line each.

    Ports are paired by position among the layer's inputs, then its outputs: OpenVINO may give
    an op more inputs than the XML wrote (e.g. Pad's optional pad value), so ids would not match.
    """
    from lxml import etree

    written: dict[str, tuple[list, list]] = {}
    for layer in etree.parse(str(xml_path)).getroot().iterfind("layers/layer"):
        def dims_of(kind: str) -> list[tuple[str, list[str]]]:
            return [(p.get("id"), [(d.text or "").strip() for d in p.iterfind("dim")])
                    for p in layer.iterfind(f"{kind}/port")]
        written[layer.get("name")] = (dims_of("input"), dims_of("output"))
    problems = []
    for op in model.get_ordered_ops():
        ports = written.get(op.get_friendly_name())
        if ports is None:
            continue
        inferred = ([op.get_input_partial_shape(i) for i in range(op.get_input_size())],
                    [op.get_output_partial_shape(i) for i in range(op.get_output_size())])
        for xml_ports, shapes in zip(ports, inferred):
            for (port_id, xml_dims), shape in zip(xml_ports, shapes):
                if shape.rank.is_dynamic:
                    continue
                dims = ["-1" if d.is_dynamic else str(d.get_length()) for d in shape]
                if xml_dims != dims:
                    problems.append(f"layer {op.get_friendly_name()!r} ({op.get_type_name()}) "
                                    f"port {port_id}: XML says [{','.join(xml_dims)}], OpenVINO "
                                    f"infers [{','.join(dims)}]")
    return problems
