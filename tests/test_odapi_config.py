"""The Object Detection API pipeline.config reader: the protobuf text-format parser, the
fields kept with the protos' defaults, and the errors a user can fix."""
from __future__ import annotations

import math
import tarfile
from pathlib import Path

import pytest

from converter.errors import UserInputError
from converter.frontends.tf.odapi.config import (PipelineConfigError, SsdAnchors,
                                                 parse_text_proto, read_pipeline_config)
from converter.frontends.tf.odapi.text_format import TextProtoSyntaxError

ARCHIVE = Path(__file__).parent / "data" / "ssd_mobilenet_v2_tiny_voc.tar.gz"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.config"
    path.write_text(text, encoding="utf-8")
    return path


def ssd(body: str, head: str = "num_classes: 3") -> str:
    return f"model {{ ssd {{ {head}\n{body} }} }}"


# ------------------------------------------------------------------------- the real config

def test_the_exported_ssd_mobilenet_v2_config(tmp_path):
    with tarfile.open(ARCHIVE) as tar:
        text = tar.extractfile("ssd_mobilenet_v2_tiny_voc/pipeline.config").read()
    path = tmp_path / "pipeline.config"
    path.write_bytes(text)
    config = read_pipeline_config(path)
    assert config.path == str(path)
    assert (config.meta_architecture, config.num_classes, config.feature_extractor) == (
        "ssd", 20, "ssd_mobilenet_v2")
    assert (config.resizer, config.height, config.width) == ("fixed_shape_resizer", 256, 256)
    assert config.anchor_generator == "ssd_anchor_generator"
    assert config.anchors == SsdAnchors(num_layers=6, min_scale=0.2, max_scale=0.95,
                                        aspect_ratios=(1.0, 2.0, 0.5, 3.0, 0.3333))
    assert config.anchors.reduce_boxes_in_lowest_layer is True
    assert config.box_coder == "faster_rcnn_box_coder"
    assert config.box_coder_scales == (10.0, 10.0, 5.0, 5.0)
    assert (config.score_threshold, config.iou_threshold) == (1e-08, 0.6)
    assert (config.max_detections_per_class, config.max_total_detections) == (100, 100)
    assert (config.score_converter, config.logit_scale) == ("SIGMOID", 1.0)


# ------------------------------------------------------------------------- the text format

def test_comments_are_skipped_but_not_inside_strings():
    text = '# header\na: 1  # trailing\n# b: 2\nc: "x # not a comment"  #\n'
    assert parse_text_proto(text) == {"a": [1], "c": ["x # not a comment"]}


def test_nested_messages_with_or_without_colon_and_angle_brackets():
    text = "outer { inner: { x: 1 } other < y: 2 > } empty {}"
    assert parse_text_proto(text) == {
        "outer": [{"inner": [{"x": [1]}], "other": [{"y": [2]}]}], "empty": [{}]}


def test_repeated_fields_keep_every_value_in_order():
    text = "r: 3 r: 1; m { v: 1 }, m { v: 2 } r: [4, 5] l: [] ms: [{ a: 1 }, < a: 2 >]"
    assert parse_text_proto(text) == {"r": [3, 1, 4, 5], "m": [{"v": [1]}, {"v": [2]}],
                                      "l": [], "ms": [{"a": [1]}, {"a": [2]}]}


def test_strings_resolve_escapes_and_join_adjacent_literals():
    text = r'''a: "say \"hi\"\n" b: 'it\'s' c: "tab\there" d: "\101\x42\u00e9" e: "ab" 'cd'
               f: "back\\slash" g: "caf\303\251" h: ""'''
    assert parse_text_proto(text) == {
        "a": ['say "hi"\n'], "b": ["it's"], "c": ["tab\there"], "d": ["AB\u00e9"],
        "e": ["abcd"], "f": ["back\\slash"], "g": ["caf\u00e9"], "h": [""]}


def test_numbers_negative_exponent_hex_octal_and_suffixed():
    text = "a: -3 b: 4e-05 c: -1.5E+2 d: 0x1F e: 010 f: .5 g: 2.f h: 0 i: -0.25 j: 7f"
    assert parse_text_proto(text) == {"a": [-3], "b": [4e-05], "c": [-150.0], "d": [31],
                                      "e": [8], "f": [0.5], "g": [2.0], "h": [0],
                                      "i": [-0.25], "j": [7.0]}
    assert isinstance(parse_text_proto("x: 10")["x"][0], int)
    assert isinstance(parse_text_proto("x: 10.0")["x"][0], float)


def test_special_floats_enums_and_booleans():
    values = parse_text_proto("a: inf b: -inf c: nan d: RELU_6 e: true f: False g: True")
    assert values["a"] == [math.inf] and values["b"] == [-math.inf]
    assert math.isnan(values["c"][0])
    assert values["d"] == ["RELU_6"]
    assert values["e"] == [True] and values["f"] == [False] and values["g"] == [True]
    assert values["e"][0] is True


# ------------------------------------------------------------------------- sample variants

def test_ssd_inception_v2(tmp_path):
    config = read_pipeline_config(write(tmp_path, """
    model { ssd { num_classes: 90
      image_resizer { fixed_shape_resizer { height: 300 width: 300 } }
      feature_extractor { type: 'ssd_inception_v2' min_depth: 16 depth_multiplier: 1.0
        override_base_feature_extractor_hyperparams: true }
      box_coder { faster_rcnn_box_coder { y_scale: 10.0 x_scale: 10.0 height_scale: 5.0
        width_scale: 5.0 } }
      anchor_generator { ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95
        aspect_ratios: 1.0 aspect_ratios: 2.0 aspect_ratios: 0.5 aspect_ratios: 3.0
        aspect_ratios: 0.3333 reduce_boxes_in_lowest_layer: true } }
      post_processing { batch_non_max_suppression { score_threshold: 1e-8 iou_threshold: 0.6
        max_detections_per_class: 100 max_total_detections: 100 } score_converter: SIGMOID }
    } }"""))
    assert (config.num_classes, config.feature_extractor) == (90, "ssd_inception_v2")
    assert (config.height, config.width) == (300, 300)
    assert config.anchors.aspect_ratios == (1.0, 2.0, 0.5, 3.0, 0.3333)
    assert config.score_threshold == 1e-8 and config.score_converter == "SIGMOID"


def test_ssdlite_with_depthwise_predictor_and_default_resizer_size(tmp_path):
    config = read_pipeline_config(write(tmp_path, ssd("""
      image_resizer { fixed_shape_resizer { } }
      feature_extractor { type: "ssd_mobilenet_v2" use_depthwise: true }
      box_predictor { convolutional_box_predictor { use_depthwise: true kernel_size: 3 } }
      anchor_generator { ssd_anchor_generator { aspect_ratios: [1.0, 2.0] } }
      post_processing { score_converter: SOFTMAX logit_scale: 2.5 }""")))
    assert config.feature_extractor == "ssd_mobilenet_v2"
    assert (config.resizer, config.height, config.width) == ("fixed_shape_resizer", 300, 300)
    assert config.anchors == SsdAnchors(aspect_ratios=(1.0, 2.0))
    assert (config.score_converter, config.logit_scale) == ("SOFTMAX", 2.5)
    # the batch_non_max_suppression proto's defaults
    assert (config.score_threshold, config.iou_threshold) == (0.0, 0.6)
    assert (config.max_detections_per_class, config.max_total_detections) == (100, 100)


def test_an_anchor_generator_without_fields_has_the_proto_defaults(tmp_path):
    config = read_pipeline_config(write(tmp_path, ssd(
        "anchor_generator { ssd_anchor_generator { } }")))
    anchors = config.anchors
    assert (anchors.num_layers, anchors.min_scale, anchors.max_scale) == (6, 0.2, 0.95)
    assert anchors.aspect_ratios == () and anchors.scales == ()
    assert anchors.interpolated_scale_aspect_ratio == 1.0
    assert (anchors.base_anchor_height, anchors.base_anchor_width) == (1.0, 1.0)
    assert anchors.reduce_boxes_in_lowest_layer is True
    assert config.score_converter == "IDENTITY" and config.logit_scale == 1.0
    assert config.resizer == "" and config.height is None and config.width is None
    assert config.feature_extractor == ""


def test_explicit_scales_strides_offsets_and_anchor_options(tmp_path):
    config = read_pipeline_config(write(tmp_path, ssd("""
      anchor_generator { ssd_anchor_generator { num_layers: 2 scales: 0.1 scales: 0.35
        aspect_ratios: 1.0 interpolated_scale_aspect_ratio: 0.0
        base_anchor_height: 0.5 base_anchor_width: 2 reduce_boxes_in_lowest_layer: false
        height_stride: [16, 32] width_stride: [16, 32] height_offset: [8, 16]
        width_offset: [8, 16] } }""")))
    assert config.anchors == SsdAnchors(
        num_layers=2, scales=(0.1, 0.35), aspect_ratios=(1.0,),
        interpolated_scale_aspect_ratio=0.0, base_anchor_height=0.5, base_anchor_width=2.0,
        height_stride=(16, 32), width_stride=(16, 32), height_offset=(8, 16),
        width_offset=(8, 16), reduce_boxes_in_lowest_layer=False)
    assert isinstance(config.anchors.base_anchor_width, float)


def test_keep_aspect_ratio_resizer_gives_min_and_max_dimension(tmp_path):
    config = read_pipeline_config(write(tmp_path, ssd(
        "image_resizer { keep_aspect_ratio_resizer { min_dimension: 320 max_dimension: 512 "
        "pad_to_max_dimension: true } }")))
    assert (config.resizer, config.height, config.width) == ("keep_aspect_ratio_resizer",
                                                             320, 512)
    defaults = read_pipeline_config(write(tmp_path, ssd(
        "image_resizer { keep_aspect_ratio_resizer { } }")))
    assert (defaults.height, defaults.width) == (600, 1024)


def test_faster_rcnn_is_reported_with_its_first_and_second_stage_blocks(tmp_path):
    config = read_pipeline_config(write(tmp_path, """
    model { faster_rcnn { num_classes: 90
      image_resizer { keep_aspect_ratio_resizer { min_dimension: 600 max_dimension: 1024 } }
      feature_extractor { type: 'faster_rcnn_inception_v2' first_stage_features_stride: 16 }
      first_stage_anchor_generator { grid_anchor_generator { scales: [0.25, 0.5, 1.0, 2.0]
        aspect_ratios: [0.5, 1.0, 2.0] height_stride: 16 width_stride: 16 } }
      second_stage_post_processing { batch_non_max_suppression { score_threshold: 0.0
        iou_threshold: 0.6 max_detections_per_class: 100 max_total_detections: 300 }
        score_converter: SOFTMAX }
    } }"""))
    assert (config.meta_architecture, config.num_classes) == ("faster_rcnn", 90)
    assert config.feature_extractor == "faster_rcnn_inception_v2"
    assert config.anchor_generator == "grid_anchor_generator" and config.anchors is None
    assert (config.max_total_detections, config.score_converter) == (300, "SOFTMAX")
    assert config.box_coder == "" and config.box_coder_scales == (10.0, 10.0, 5.0, 5.0)


def test_other_anchor_generators_and_box_coders_are_named_without_ssd_anchors(tmp_path):
    config = read_pipeline_config(write(tmp_path, ssd("""
      anchor_generator { multiscale_anchor_generator { min_level: 3 max_level: 7
        anchor_scale: 4.0 aspect_ratios: [1.0, 2.0, 0.5] scales_per_octave: 2 } }
      box_coder { keypoint_box_coder { num_keypoints: 6 } }""", head="num_classes: 1")))
    assert config.anchor_generator == "multiscale_anchor_generator"
    assert config.anchors is None
    assert config.box_coder == "keypoint_box_coder"
    custom = read_pipeline_config(write(tmp_path, ssd(
        "box_coder { faster_rcnn_box_coder { y_scale: 8 height_scale: 4.5 } }")))
    assert custom.box_coder_scales == (8.0, 10.0, 4.5, 5.0)


def test_a_meta_architecture_without_anchors_or_post_processing(tmp_path):
    config = read_pipeline_config(write(tmp_path, "model { center_net { num_classes: 80 "
                                                  "feature_extractor { type: 'hourglass_104' }"
                                                  " } }"))
    assert (config.meta_architecture, config.feature_extractor) == ("center_net",
                                                                    "hourglass_104")
    assert config.anchor_generator == "" and config.anchors is None
    assert (config.score_threshold, config.max_total_detections) == (0.0, 100)


# ------------------------------------------------------------------------- errors

def error_of(tmp_path: Path, text: str) -> PipelineConfigError:
    path = write(tmp_path, text)
    with pytest.raises(PipelineConfigError) as caught:
        read_pipeline_config(path)
    assert isinstance(caught.value, UserInputError)
    assert str(path) in str(caught.value)
    return caught.value


def test_a_missing_file_or_a_folder(tmp_path):
    with pytest.raises(PipelineConfigError, match=r"nothere\.config does not exist; give"):
        read_pipeline_config(tmp_path / "nothere.config")
    with pytest.raises(PipelineConfigError, match="is not a file"):
        read_pipeline_config(tmp_path)


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "pipeline.config"
    path.write_bytes(b"model { ssd { num_classes: 1 } } # \xff\xfe")
    with pytest.raises(PipelineConfigError, match="cannot be read as UTF-8"):
        read_pipeline_config(path)


@pytest.mark.parametrize("text,line,column,reason", [
    ("model {\n  ssd {\n    num_classes 3\n", 3, 17, "expected ':' or '{' after field name "
                                                      "'num_classes', found '3'"),
    ("model {\n  ssd { num_classes: 3 }\n", 3, 1, "missing '}' before the end of the text"),
    ("a: 1 }", 1, 6, "expected a field name, found '}'"),
    ('a: "open\nb: 1', 1, 4, "string not closed on its line"),
    ("a: 1.2.3", 1, 4, "'1.2.3' is not a number"),
    ("a: -x", 1, 4, "'-x' is not a number"),
    ("a: :", 1, 4, "expected a value, found ':'"),
    ("a: [1 2]", 1, 7, "expected ',' or ']' in a list, found '2'"),
    ('a: "\\q"', 1, 4, "unknown escape sequence \\q"),
    ("a: 1\n  [ext.field]: 2", 2, 3, "extension and Any fields"),
    ("a: 1 $", 1, 6, "unexpected character '$'"),
    ("a:", 1, 3, "unexpected end of text"),
])
def test_syntax_errors_give_line_and_column(tmp_path, text, line, column, reason):
    error = error_of(tmp_path, text)
    assert f", line {line}, column {column}: {reason}" in str(error)
    assert "fix the text" in str(error)
    syntax = error.__cause__
    assert isinstance(syntax, TextProtoSyntaxError)
    assert (syntax.line, syntax.column) == (line, column)
    with pytest.raises(TextProtoSyntaxError):
        parse_text_proto(text)


def test_a_config_without_model(tmp_path):
    error = error_of(tmp_path, "train_config { batch_size: 24 }")
    assert "has no 'model { ... }' block" in str(error)


def test_an_empty_model(tmp_path):
    assert "model { } is empty" in str(error_of(tmp_path, "model { }"))


@pytest.mark.parametrize("head,found", [("", "no num_classes"),
                                        ("num_classes: 0", "num_classes 0")])
def test_a_model_without_num_classes(tmp_path, head, found):
    error = error_of(tmp_path, ssd("image_resizer { fixed_shape_resizer { } }", head=head))
    assert f"model {{ ssd {{ ... }} }} has {found}; set 'num_classes: N'" in str(error)


@pytest.mark.parametrize("text,message", [
    (ssd("", head="num_classes: 'twenty'"), "model.ssd.num_classes must be an integer, "
                                            "got 'twenty'"),
    (ssd("", head="num_classes: 2.5"), "model.ssd.num_classes must be an integer, got 2.5"),
    (ssd("image_resizer: 3"), "model.ssd.image_resizer must be a message { ... }, got 3"),
    (ssd("anchor_generator { ssd_anchor_generator { min_scale: 'low' } }"),
     "model.ssd.anchor_generator.ssd_anchor_generator.min_scale must be a number"),
    (ssd("anchor_generator { ssd_anchor_generator { reduce_boxes_in_lowest_layer: 2 } }"),
     "reduce_boxes_in_lowest_layer must be true or false, got 2"),
    (ssd("image_resizer { fixed_shape_resizer {} keep_aspect_ratio_resizer {} }"),
     "model.ssd.image_resizer sets fixed_shape_resizer, keep_aspect_ratio_resizer; only one"),
    ("model { ssd { num_classes: 1 } faster_rcnn { num_classes: 1 } }",
     "model sets ssd, faster_rcnn; only one of them may be set"),
])
def test_fields_of_the_wrong_kind(tmp_path, text, message):
    assert message in str(error_of(tmp_path, text))
