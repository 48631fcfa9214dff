"""An Object Detection API SSD export (ssd_mobilenet_v2, seeded random weights, 20 classes,
256x256) converted with its pipeline.config: the preprocessing loop cut, the Postprocessor
replaced by one DetectionOutput, and its detections compared with TensorFlow's."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino, run_tf_graph

ARCHIVE = Path(__file__).parent / "data" / "ssd_mobilenet_v2_tiny_voc.tar.gz"
SIZE = 256
SCORE_FLOOR = 0.05
TOLERANCE = {"FP32": 1e-3, "FP16": 3e-2}
TF_OUTPUTS = ["detection_boxes:0", "detection_scores:0", "detection_classes:0",
              "num_detections:0", "Concatenate/concat:0"]


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("odapi")
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(folder, filter="data")
    return folder / "ssd_mobilenet_v2_tiny_voc"


def ssd_flags(export: Path, **flags) -> dict:
    return {"tensorflow_object_detection_api_pipeline_config": str(export / "pipeline.config"),
            "reverse_input_channels": True, **flags}


@pytest.fixture(scope="module")
def irs(export, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("ir")
    return {precision: convert(export / "frozen_inference_graph.pb", out / precision, "ssd",
                               data_type=precision, **ssd_flags(export))
            for precision in TOLERANCE}


def structured_image() -> np.ndarray:
    """Gradients and rectangles, RGB uint8 [1, 256, 256, 3] (the model's size: no resize)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    image = np.stack([x * 255 // SIZE, y * 255 // SIZE, (x + y) * 255 // (2 * SIZE)], -1)
    image = image.astype(np.uint8)
    image[40:120, 30:100] = [220, 30, 40]
    image[150:230, 140:240] = [20, 200, 60]
    image[60:90, 160:220] = [250, 250, 250]
    return image[np.newaxis]


@pytest.fixture(scope="module")
def tensorflow_run(export) -> dict[str, np.ndarray]:
    return run_tf_graph(export / "frozen_inference_graph.pb",
                        {"image_tensor:0": structured_image()}, TF_OUTPUTS)


def ir_detections(xml: Path) -> np.ndarray:
    """The IR's detections [K, 7] on the image (fed as BGR: reverse_input_channels)."""
    bgr = structured_image()[..., ::-1].copy()
    rows = run_openvino(xml, {"image_tensor": bgr})["detection_out"][0, 0]
    return rows[rows[:, 0] >= 0]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (ymin, xmin, ymax, xmax) boxes."""
    inter = (max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
             * max(0.0, min(a[3], b[3]) - max(a[1], b[1])))
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return float(inter / (area(a) + area(b) - inter))


def test_ir_has_one_detection_output_and_no_loops(irs):
    for xml in irs.values():
        text = xml.read_text()
        types = re.findall(r'type="(\w+)"', text)
        assert not {t for t in types if t in ("Loop", "TensorIterator") or "TensorArray" in t}
        assert types.count("DetectionOutput") == 1
        assert re.search(r'type="Parameter".*?element_type="u8"', text, re.S)
        import openvino as ov

        model = ov.Core().read_model(str(xml))
        assert [o.get_any_name() for o in model.outputs] == ["detection_out"]
        assert tuple(model.outputs[0].get_partial_shape().to_shape()) == (1, 1, 100, 7)
        assert tuple(model.inputs[0].get_partial_shape().to_shape()) == (1, SIZE, SIZE, 3)


@pytest.mark.parametrize("precision", list(TOLERANCE))
def test_detections_match_tensorflow(irs, tensorflow_run, precision):
    """Every TensorFlow detection above the floor has an IR detection of the same class, IoU
    >= 0.9 and a close score. Only a detection whose score is within the tolerance of the
    lowest score the IR keeps may be missing: there the top-100 cut depends on precision."""
    detections = ir_detections(irs[precision])
    boxes, labels, scores = detections[:, [4, 3, 6, 5]], detections[:, 1], detections[:, 2]
    tolerance = TOLERANCE[precision]
    tf_boxes, tf_scores, tf_classes = (tensorflow_run[n][0] for n in TF_OUTPUTS[:3])
    matched, worst_iou, worst_score, expected = 0, 1.0, 0.0, 0
    for box, score, label in zip(tf_boxes, tf_scores, tf_classes):
        if score <= SCORE_FLOOR:
            continue
        expected += 1
        found = [(iou(box, b), abs(score - s)) for b, s, l in zip(boxes, scores, labels)
                 if l == label and iou(box, b) >= 0.9 and abs(score - s) <= tolerance]
        if found:
            best = max(found)
            matched, worst_iou, worst_score = matched + 1, min(worst_iou, best[0]), max(worst_score, best[1])
        else:
            assert score <= scores.min() + tolerance, (precision, box, score, label)
    print(f"{precision}: {matched}/{expected} TensorFlow detections matched, worst IoU "
          f"{worst_iou:.4f}, worst score difference {worst_score:.2e}")
    assert expected > 10 and matched >= expected - 2


def test_priors_are_tensorflow_anchors(irs, tensorflow_run):
    import openvino as ov

    model = ov.Core().read_model(str(irs["FP32"]))
    detection = next(op for op in model.get_ops() if op.get_type_name() == "DetectionOutput")
    priors = detection.input_value(2).get_node().get_data()
    anchors = tensorflow_run["Concatenate/concat:0"]
    assert priors.shape == (1, 2, anchors.size)
    np.testing.assert_allclose(priors[0, 0].reshape(-1, 4), anchors[:, [1, 0, 3, 2]], atol=1e-6)
    np.testing.assert_allclose(priors[0, 1].reshape(-1, 4), np.tile([0.1, 0.1, 0.2, 0.2], (len(anchors), 1)))


def test_detection_attributes(irs):
    attrs = re.search(r'type="DetectionOutput".*?<data ([^>]*)/>', irs["FP32"].read_text(), re.S).group(1)
    for expected in ('keep_top_k="100"', ' top_k="100"', 'nms_threshold="0.6"',
                     'confidence_threshold="1e-08"', 'clip_after_nms="true"',
                     'clip_before_nms="false"', 'share_location="true"', 'normalized="true"',
                     'background_label_id="0"', 'code_type="caffe.PriorBoxParameter.CENTER_SIZE"'):
        assert expected in attrs


def test_conversion_is_deterministic_and_zoo_flags_mean_the_same(export, irs, tmp_path):
    """mo's manifest flags (--input, --input_shape, --output naming TF's outputs, the shipped
    replacement config by path) give the same layers and weights."""
    xml = convert(export / "frozen_inference_graph.pb", tmp_path / "a", "ssd", **ssd_flags(export))
    assert xml.read_bytes() == irs["FP32"].read_bytes()
    assert xml.with_suffix(".bin").read_bytes() == irs["FP32"].with_suffix(".bin").read_bytes()
    zoo = convert(export / "frozen_inference_graph.pb", tmp_path / "b", "ssd",
                  input="image_tensor", input_shape="[1,256,256,3]",
                  output="detection_scores,detection_boxes,num_detections,detection_classes",
                  transformations_config="$mo_ext_dir/front/tf/ssd_v2_support.json",
                  **ssd_flags(export))
    assert zoo.with_suffix(".bin").read_bytes() == xml.with_suffix(".bin").read_bytes()
    assert _layers(zoo) == _layers(xml)


def _layers(xml: Path) -> str:
    return xml.read_text().split("<rt_info>")[0]


@pytest.mark.parametrize("name", ["ssd_v2_support.json", "ssd_support_api_v1.14.json",
                                  "ssd_support_api_v1.15.json", "/opt/mo/front/tf/ssd_support.json"])
def test_shipped_replacement_config_names(export, tmp_path, name):
    for flag in ("transformations_config", "tensorflow_use_custom_operations_config"):
        xml = convert(export / "frozen_inference_graph.pb", tmp_path / flag, "ssd",
                      **ssd_flags(export, **{flag: name}))
        assert "DetectionOutput" in xml.read_text()


def test_replacement_config_files(export, tmp_path):
    own = tmp_path / "mine.json"
    own.write_text(json.dumps([{"id": "ObjectDetectionAPISSDPostprocessorReplacement",
                                "match_kind": "scope", "custom_attributes": {"clip_before_nms": True,
                                                                             "clip_after_nms": False}}]))
    xml = convert(export / "frozen_inference_graph.pb", tmp_path / "own", "ssd",
                  transformations_config=str(own), **ssd_flags(export))
    assert 'clip_after_nms="false"' in xml.read_text()
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"id": "ObjectDetectionAPIProposalReplacement", "match_kind": "general"}]))
    not_json = tmp_path / "broken.json"
    not_json.write_text("{not json")
    cases = {str(other): "ObjectDetectionAPIProposalReplacement",
             str(not_json): "not a JSON file",
             "faster_rcnn_support.json": "Faster R-CNN",
             "missing.json": "no such file"}
    for value, message in cases.items():
        with pytest.raises(UserInputError, match=message):
            convert(export / "frozen_inference_graph.pb", tmp_path / "x", "ssd",
                    transformations_config=value, **ssd_flags(export))
    with pytest.raises(UserInputError, match="tensorflow_object_detection_api_pipeline_config"):
        convert(export / "frozen_inference_graph.pb", tmp_path / "x", "ssd",
                transformations_config="ssd_v2_support.json")
    with pytest.raises(UserInputError, match="disagree"):
        convert(export / "frozen_inference_graph.pb", tmp_path / "x", "ssd",
                transformations_config="ssd_v2_support.json",
                tensorflow_use_custom_operations_config="ssd_support.json")


def edited_config(export: Path, tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = (export / "pipeline.config").read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "pipeline.config"
    path.write_text(text)
    return path


def test_unsupported_configs_are_refused(export, tmp_path):
    pb = export / "frozen_inference_graph.pb"
    faster_rcnn = edited_config(export, tmp_path, ("  ssd {", "  faster_rcnn {"))
    with pytest.raises(UserInputError, match="'faster_rcnn' is not supported; an SSD"):
        convert(pb, tmp_path / "x", tensorflow_object_detection_api_pipeline_config=str(faster_rcnn))
    fpn = edited_config(export, tmp_path, ("ssd_anchor_generator {", "multiscale_anchor_generator {"),
                        ("        num_layers: 6\n        min_scale: 0.2\n        max_scale: 0.95\n", ""),
                        ("aspect_ratios: 3.0", "min_level: 3"))
    with pytest.raises(UserInputError, match="multiscale_anchor_generator .*ssd_anchor_generator"):
        convert(pb, tmp_path / "x", tensorflow_object_detection_api_pipeline_config=str(fpn))
    wrong_classes = edited_config(export, tmp_path, ("num_classes: 20", "num_classes: 90"))
    with pytest.raises(UserInputError, match="does not match its pipeline.config.*num_classes 90"):
        convert(pb, tmp_path / "x", tensorflow_object_detection_api_pipeline_config=str(wrong_classes))


def test_missing_and_malformed_configs(export, tmp_path):
    pb = export / "frozen_inference_graph.pb"
    with pytest.raises(UserInputError, match="does not exist"):
        convert(pb, tmp_path / "x", tensorflow_object_detection_api_pipeline_config=str(tmp_path / "none"))
    broken = tmp_path / "broken.config"
    broken.write_text("model {\n  ssd {\n    num_classes: \n")
    with pytest.raises(UserInputError, match="broken.config"):
        convert(pb, tmp_path / "x", tensorflow_object_detection_api_pipeline_config=str(broken))


def test_a_graph_that_is_no_ssd_export_is_refused(export, tmp_path):
    """A plain CNN: the config does not describe it."""
    from converter.frontends.tf.proto import messages

    graph_def = messages().GraphDef()
    image = graph_def.node.add(name="input", op="Placeholder")
    image.attr["dtype"].type = 1
    relu = graph_def.node.add(name="relu", op="Relu", input=["input"])
    relu.attr["T"].type = 1
    pb = tmp_path / "cnn.pb"
    pb.write_bytes(graph_def.SerializeToString())
    with pytest.raises(UserInputError, match="does not match its pipeline.config.*image_tensor"):
        convert(pb, tmp_path / "x", **ssd_flags(export))
    with pytest.raises(UserInputError, match="--output relu"):
        convert(export / "frozen_inference_graph.pb", tmp_path / "x", output="relu", **ssd_flags(export))


def test_converting_imports_no_tensorflow(export, tmp_path):
    script = (f"import sys; from converter import convert; "
              f"convert({str(export / 'frozen_inference_graph.pb')!r}, {str(tmp_path)!r}, 'ssd', "
              f"tensorflow_object_detection_api_pipeline_config={str(export / 'pipeline.config')!r}); "
              f"assert not [m for m in sys.modules if m.split('.')[0] == 'tensorflow'], 'tf imported'")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parent.parent)


# -- older exports: the normalization inside the preprocessing loop ---------------------------
LEGACY_SIZE = 32
FEATURE = "FeatureExtractor/conv_1/Relu6"


def build_legacy_export(tf, boxes_per_location: list[int], classes: int):
    """A small SSD-shaped graph as older exports were: image_tensor -> ToFloat -> a map loop
    that resizes, then multiplies by 2/255 and subtracts 1 -> two feature maps, each with a
    BoxPredictor -> concat (box encodings) and concat_1 (class predictions)."""
    rng = np.random.default_rng(5)

    def conv(x, channels, stride, name):
        weights = rng.normal(0, 0.3, (3 if stride > 1 else 1, 3 if stride > 1 else 1,
                                      int(x.shape[-1]), channels)).astype(np.float32)
        with tf.name_scope(name):
            y = tf.nn.conv2d(x, weights, stride, "SAME", name="Conv2D")
            return tf.nn.bias_add(y, rng.normal(0, 0.1, channels).astype(np.float32), name="BiasAdd")

    def per_image(image):
        with tf.name_scope("ResizeImage"):
            resized = tf.compat.v1.image.resize_bilinear(image[None], [LEGACY_SIZE] * 2)[0]
        return (2.0 / 255.0) * resized - 1.0

    image = tf.compat.v1.placeholder(tf.uint8, [None, None, None, 3], name="image_tensor")
    with tf.name_scope("Preprocessor"):
        x = tf.map_fn(per_image, tf.cast(image, tf.float32, name="ToFloat"), dtype=tf.float32)
    features = []
    for i, channels in enumerate((8, 8)):
        x = tf.nn.relu6(conv(x, channels, 2, f"FeatureExtractor/conv_{i}"), name=f"FeatureExtractor/conv_{i}/Relu6")
        features.append(x)
    encodings, predictions = [], []
    for i, (feature, boxes) in enumerate(zip(features, boxes_per_location)):
        batch = tf.shape(feature)[0]
        encoding = conv(feature, boxes * 4, 1, f"BoxPredictor_{i}/BoxEncodingPredictor")
        encodings.append(tf.reshape(encoding, tf.stack([batch, -1, 1, 4]), name=f"BoxPredictor_{i}/Reshape"))
        logits = conv(feature, boxes * (classes + 1), 1, f"BoxPredictor_{i}/ClassPredictor")
        predictions.append(tf.reshape(logits, tf.stack([batch, -1, classes + 1]), name=f"BoxPredictor_{i}/Reshape_1"))
    tf.concat(encodings, 1, name="concat")
    tf.concat(predictions, 1, name="concat_1")


@pytest.fixture(scope="module")
def legacy(export, tmp_path_factory):
    from converter.frontends.tf.freeze import import_tensorflow
    from converter.frontends.tf.odapi.anchors import boxes_per_location
    from converter.frontends.tf.odapi.config import read_pipeline_config

    folder = tmp_path_factory.mktemp("legacy")
    config = edited_config(export, folder, ("num_classes: 20", "num_classes: 2"),
                           ("height: 256", f"height: {LEGACY_SIZE}"), ("width: 256", f"width: {LEGACY_SIZE}"),
                           ("num_layers: 6", "num_layers: 2"))
    tf = import_tensorflow()
    tf.compat.v1.disable_control_flow_v2()  # the TensorArray while-loops of TF1 exports
    try:
        with tf.Graph().as_default() as graph:
            build_legacy_export(tf, boxes_per_location(read_pipeline_config(config).anchors), 2)
    finally:
        tf.compat.v1.enable_control_flow_v2()
    pb = folder / "frozen_inference_graph.pb"
    pb.write_bytes(graph.as_graph_def().SerializeToString())
    return pb, config


def test_legacy_normalization_is_moved_out_of_the_loop(legacy, tmp_path):
    from converter.frontends.tf.graph_def import read_graph_def
    from converter.frontends.tf.odapi.preprocessor import cut_resize_loop
    from converter.frontends.tf.odapi.ssd_graph import find_ssd_graph

    pb, config = legacy
    graph_def = read_graph_def(pb)
    parts = find_ssd_graph({node.name: node for node in graph_def.node}, str(config))
    cut = cut_resize_loop(graph_def, parts.loop)
    original = {node.name for node in graph_def.node}
    moved = [node.op for node in cut.node if node.name not in original and node.op != "Const"]
    assert moved == ["Mul", "Sub"]
    cut_pb = tmp_path / "cut.pb"
    cut_pb.write_bytes(cut.SerializeToString())
    image = structured_image()[:, ::8, ::8]
    xml = convert(cut_pb, tmp_path / "ir", "cut", output=FEATURE, input_shape=[1, LEGACY_SIZE, LEGACY_SIZE, 3])
    expected = run_tf_graph(pb, {"image_tensor:0": image}, [f"{FEATURE}:0"])[f"{FEATURE}:0"]
    np.testing.assert_allclose(run_openvino(xml, {"image_tensor": image})[FEATURE], expected, atol=1e-5)


def test_legacy_export_converts(legacy, tmp_path):
    pb, config = legacy
    xml = convert(pb, tmp_path, "legacy", tensorflow_object_detection_api_pipeline_config=str(config))
    text = xml.read_text()
    assert "DetectionOutput" in text and "TensorArray" not in text and 'type="Loop"' not in text
    image = structured_image()[:, ::8, ::8]
    rows = run_openvino(xml, {"image_tensor": image})["detection_out"]
    assert rows.shape == (1, 1, 100, 7) and set(rows[0, 0, :, 1][rows[0, 0, :, 0] >= 0]) <= {1, 2}


def test_an_export_without_its_pipeline_config_says_what_to_give(export):
    frozen = export / "frozen_inference_graph.pb"
    with pytest.raises(UserInputError, match="tensorflow_object_detection_api_pipeline_config") as info:
        convert(frozen, export.parent / "no-config", "ssd")
    # TensorArrays and the Preprocessor's loop now convert; what is left is still listed
    assert "does not support" in str(info.value), "the unsupported ops are still listed"
