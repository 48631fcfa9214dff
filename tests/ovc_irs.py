"""IRs made by OpenVINO's own converter, as a user of ovc would make them.

ovc has no `--mean_values`/`--scale_values`/`--reverse_input_channels`; the Model Optimizer's
meaning of them (on a raw input: reverse the channels, then subtract the mean, then divide by
the scale, along the channel axis of the layout) is what `PrePostProcessor` builds in front of
the converted model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

Values = float | Sequence[float] | None


def ovc_ir(source: str | Path, out_xml: str | Path, *, mean: Values = None, scale: Values = None,
           reverse: bool = False, layout: str = "NCHW",
           input_shape: Sequence[int] | None = None) -> Path:
    """Convert `source` with `openvino.convert_model`, add the preprocessing, and save it
    uncompressed (f32 weights) as `out_xml` and its .bin."""
    import openvino as ov

    model = ov.convert_model(str(source), **({"input": list(input_shape)} if input_shape else {}))
    if mean is not None or scale is not None or reverse:
        model = with_preprocessing(model, mean, scale, reverse, layout)
    out_xml = Path(out_xml)
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(out_xml), compress_to_fp16=False)
    return out_xml


def with_preprocessing(model, mean: Values, scale: Values, reverse: bool, layout: str):
    """`model` with reverse -> subtract mean -> divide by scale before its only input."""
    from openvino import Layout
    from openvino.preprocess import PrePostProcessor

    ppp = PrePostProcessor(model)
    put = ppp.input()
    put.tensor().set_layout(Layout(layout))
    put.model().set_layout(Layout(layout))
    steps = put.preprocess()
    if reverse:
        steps.reverse_channels()
    if mean is not None:
        steps.mean(_values(mean))
    if scale is not None:
        steps.scale(_values(scale))
    return ppp.build()


def _values(values: float | Sequence[float]) -> float | list[float]:
    return float(values) if isinstance(values, (int, float)) else [float(v) for v in values]
