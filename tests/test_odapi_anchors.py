"""SSD anchors recomputed in numpy: against the anchors a real Object Detection API graph
computes (run in TensorFlow), and against small cases worked out by hand."""
from __future__ import annotations

import math
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from converter.frontends.tf.odapi.anchors import (boxes_per_location, layer_box_specs,
                                                  layer_scales, ssd_anchors)
from converter.frontends.tf.odapi.config import SsdAnchors, read_pipeline_config

ARCHIVE = Path(__file__).parent / "data" / "ssd_mobilenet_v2_tiny_voc.tar.gz"
MODEL = "ssd_mobilenet_v2_tiny_voc"
LAYERS = 6


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The frozen graph run once in TensorFlow: its anchors, the spatial size of each box
    predictor's input and the box count of each box predictor, with the parsed config."""
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("odapi")
    with tarfile.open(ARCHIVE) as tar:
        for name in ("frozen_inference_graph.pb", "pipeline.config"):
            (folder / name).write_bytes(tar.extractfile(f"{MODEL}/{name}").read())
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((folder / "frozen_inference_graph.pb").read_bytes())
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
    predictors = [graph.get_operation_by_name(f"BoxPredictor_{i}/BoxEncodingPredictor/Conv2D")
                  for i in range(LAYERS)]
    with tf.compat.v1.Session(graph=graph) as session:
        anchors, *feature_maps = session.run(
            ["Concatenate/concat:0"] + [op.inputs[0] for op in predictors],
            {"image_tensor:0": np.zeros((1, 256, 256, 3), np.uint8)})
    box_counts = [int(op.inputs[1].shape[-1]) // 4 for op in predictors]   # 4 codes per box
    return {"anchors": anchors, "feature_maps": [m.shape[1:3] for m in feature_maps],
            "box_counts": box_counts,
            "config": read_pipeline_config(folder / "pipeline.config")}


def test_the_feature_maps_of_the_256x256_mobilenet_v2_graph(exported):
    assert exported["feature_maps"] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1), (1, 1)]
    assert boxes_per_location(exported["config"].anchors) == exported["box_counts"]
    assert exported["box_counts"] == [3, 6, 6, 6, 6, 6]


@pytest.mark.parametrize("image_size", [(256, 256), None])
def test_anchors_match_the_graphs_concatenated_anchors(exported, image_size):
    config = exported["config"]
    assert (config.height, config.width) == (256, 256)
    ours = ssd_anchors(config.anchors, exported["feature_maps"], image_size)
    theirs = exported["anchors"]
    assert theirs.shape == (16 * 16 * 3 + (64 + 16 + 4 + 1 + 1) * 6, 4) == (1284, 4)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_the_real_configs_scales_and_box_specs(exported):
    anchors = exported["config"].anchors
    np.testing.assert_allclose(layer_scales(anchors), [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0],
                               atol=1e-7)
    specs = layer_box_specs(anchors)
    assert specs[0] == [(0.1, 1.0), (pytest.approx(0.2), 2.0), (pytest.approx(0.2), 0.5)]
    last_scales = [scale for scale, _ in specs[-1]]
    np.testing.assert_allclose(last_scales, [0.95] * 5 + [math.sqrt(0.95)], atol=1e-7)
    np.testing.assert_allclose([ratio for _, ratio in specs[1]],
                               [1.0, 2.0, 0.5, 3.0, 0.3333, 1.0], atol=1e-7)


# ------------------------------------------------------------------------- by hand

def box(cy: float, cx: float, h: float, w: float) -> list[float]:
    return [cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2]


ROOT2 = math.sqrt(2.0)


def test_one_2x2_layer_with_the_lowest_layer_reduced():
    anchors = SsdAnchors(num_layers=1, scales=(0.5,), aspect_ratios=(1.0, 3.0))
    got = ssd_anchors(anchors, [(2, 2)])
    sizes = [(0.1, 0.1), (0.5 / ROOT2, 0.5 * ROOT2), (0.5 * ROOT2, 0.5 / ROOT2)]
    want = [box(cy, cx, h, w) for cy in (0.25, 0.75) for cx in (0.25, 0.75) for h, w in sizes]
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got[:3], [[0.2, 0.2, 0.3, 0.3],
                                         [0.0732233, -0.1035534, 0.4267767, 0.6035534],
                                         [-0.1035534, 0.0732233, 0.6035534, 0.4267767]],
                               atol=1e-6)


def test_one_2x2_layer_not_reduced_gets_every_ratio_and_the_interpolated_box():
    anchors = SsdAnchors(num_layers=1, scales=(0.5,), aspect_ratios=(1.0, 2.0),
                         reduce_boxes_in_lowest_layer=False)
    got = ssd_anchors(anchors, [(2, 2)])
    interpolated = math.sqrt(0.5 * 1.0)          # the last layer's next scale is 1
    sizes = [(0.5, 0.5), (0.5 / ROOT2, 0.5 * ROOT2), (interpolated, interpolated)]
    want = [box(cy, cx, h, w) for cy in (0.25, 0.75) for cx in (0.25, 0.75) for h, w in sizes]
    assert got.shape == (12, 4)
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got[2], [0.25 - 0.3535534, 0.25 - 0.3535534,
                                        0.25 + 0.3535534, 0.25 + 0.3535534], atol=1e-6)


def test_a_zero_interpolated_ratio_adds_no_box():
    anchors = SsdAnchors(num_layers=1, scales=(0.5,), aspect_ratios=(1.0, 2.0),
                         interpolated_scale_aspect_ratio=0.0,
                         reduce_boxes_in_lowest_layer=False)
    assert boxes_per_location(anchors) == [2]
    got = ssd_anchors(anchors, [(1, 2)])
    want = [box(0.5, cx, h, w) for cx in (0.25, 0.75)
            for h, w in [(0.5, 0.5), (0.5 / ROOT2, 0.5 * ROOT2)]]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_explicit_scales_set_each_layer_and_the_interpolation_between_them():
    anchors = SsdAnchors(num_layers=2, scales=(0.3, 0.6), aspect_ratios=(1.0,),
                         interpolated_scale_aspect_ratio=2.0)
    specs = layer_box_specs(anchors)
    assert specs[0] == [(0.1, 1.0), (pytest.approx(0.3), 2.0), (pytest.approx(0.3), 0.5)]
    assert [ratio for _, ratio in specs[1]] == [1.0, 2.0]
    np.testing.assert_allclose([scale for scale, _ in specs[1]], [0.6, math.sqrt(0.6)],
                               atol=1e-7)
    got = ssd_anchors(anchors, [(1, 1), (1, 1)])
    s = math.sqrt(0.6)
    want = [box(0.5, 0.5, 0.1, 0.1), box(0.5, 0.5, 0.3 / ROOT2, 0.3 * ROOT2),
            box(0.5, 0.5, 0.3 * ROOT2, 0.3 / ROOT2),
            box(0.5, 0.5, 0.6, 0.6), box(0.5, 0.5, s / ROOT2, s * ROOT2)]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_scales_are_spread_evenly_from_min_to_max():
    anchors = SsdAnchors(num_layers=3, min_scale=0.2, max_scale=0.8, aspect_ratios=())
    np.testing.assert_allclose(layer_scales(anchors), [0.2, 0.5, 0.8, 1.0], atol=1e-7)
    # no aspect ratios: the upper layers have the interpolated box only
    assert boxes_per_location(anchors) == [3, 1, 1]
    got = ssd_anchors(anchors, [(1, 1), (1, 1), (1, 1)])
    np.testing.assert_allclose(got[3], box(0.5, 0.5, math.sqrt(0.4), math.sqrt(0.4)),
                               atol=1e-6)
    np.testing.assert_allclose(got[4], box(0.5, 0.5, math.sqrt(0.8), math.sqrt(0.8)),
                               atol=1e-6)


def test_a_wide_image_narrows_the_anchors_to_stay_square_in_pixels():
    anchors = SsdAnchors(num_layers=1, scales=(0.4,), aspect_ratios=(1.0,),
                         interpolated_scale_aspect_ratio=0.0,
                         reduce_boxes_in_lowest_layer=False, base_anchor_height=0.5)
    got = ssd_anchors(anchors, [(1, 2)], image_size=(300, 600))
    # base 0.5 x 1.0, times min(300, 600) / 300 and / 600
    want = [box(0.5, 0.25, 0.2, 0.2), box(0.5, 0.75, 0.2, 0.2)]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_explicit_strides_and_offsets_are_pixels_of_the_image():
    anchors = SsdAnchors(num_layers=1, scales=(0.25,), aspect_ratios=(1.0,),
                         interpolated_scale_aspect_ratio=0.0,
                         reduce_boxes_in_lowest_layer=False,
                         height_stride=(32,), width_stride=(64,))
    got = ssd_anchors(anchors, [(2, 2)], image_size=(64, 128))
    # stride 32/64 = 0.5 down, 64/128 = 0.5 across; offset half a stride; base 1 x 0.5
    want = [box(cy, cx, 0.25, 0.125) for cy in (0.25, 0.75) for cx in (0.25, 0.75)]
    np.testing.assert_allclose(got, want, atol=1e-6)
    offset = replace(anchors, height_offset=(0,), width_offset=(16,))
    got = ssd_anchors(offset, [(2, 2)], image_size=(64, 128))
    want = [box(cy, cx, 0.25, 0.125) for cy in (0.0, 0.5) for cx in (0.125, 0.625)]
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("anchors,maps,message", [
    (SsdAnchors(aspect_ratios=(1.0,)), [(2, 2)] * 5, "5 feature maps given for an anchor "
                                                     "generator of 6 layers"),
    (SsdAnchors(num_layers=1), [(2, 2)], "num_layers 1 needs explicit scales"),
    (SsdAnchors(num_layers=2, height_stride=(8, 16), width_stride=(8,)), [(2, 2)] * 2,
     "gives 2 height_stride and 1 width_stride values; it needs one of each per layer"),
])
def test_inconsistent_anchor_settings_are_refused(anchors, maps, message):
    with pytest.raises(ValueError, match=message):
        ssd_anchors(anchors, maps)
