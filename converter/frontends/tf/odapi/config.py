"""The Object Detection API's `pipeline.config`, read without that API or TensorFlow.

The file is protobuf text format, parsed by `text_format.parse_text_proto` (re-exported here).
`read_pipeline_config` picks what a converter needs, applying the defaults the Object
Detection API's protos declare (object_detection/protos: ssd_anchor_generator, image_resizer,
faster_rcnn_box_coder, post_processing) for fields the file leaves out. Only the
meta-architecture's own block is read (`model { ssd { ... } }`); which meta-architectures can
be converted is for the caller to decide, so any is reported, none refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ....errors import UserInputError
from .text_format import TextProtoSyntaxError, parse_text_proto

__all__ = ["PipelineConfig", "PipelineConfigError", "SsdAnchors", "parse_text_proto",
           "read_pipeline_config"]


class PipelineConfigError(UserInputError):
    """The pipeline config is missing, is not valid text format, or lacks what is needed;
    the message names the file and says what to fix. A syntax error keeps the
    `TextProtoSyntaxError` (with its line and column) as its cause."""


@dataclass(frozen=True)
class SsdAnchors:
    """`ssd_anchor_generator { ... }`. The defaults are those ssd_anchor_generator.proto
    declares (num_layers 6, min_scale 0.2, max_scale 0.95, interpolated_scale_aspect_ratio 1,
    base anchor 1 x 1, reduce_boxes_in_lowest_layer true). Its repeated fields have no default:
    a config that lists no aspect_ratios has none (the (1, 2, 0.5, 3, 1/3) of the generator's
    Python factory is never used by a config). `scales`, the strides and the offsets are empty
    unless given (then one per layer; strides and offsets in pixels)."""

    num_layers: int = 6
    min_scale: float = 0.2
    max_scale: float = 0.95
    scales: tuple[float, ...] = ()
    aspect_ratios: tuple[float, ...] = ()
    interpolated_scale_aspect_ratio: float = 1.0
    base_anchor_height: float = 1.0
    base_anchor_width: float = 1.0
    height_stride: tuple[int, ...] = ()
    width_stride: tuple[int, ...] = ()
    height_offset: tuple[int, ...] = ()
    width_offset: tuple[int, ...] = ()
    reduce_boxes_in_lowest_layer: bool = True


@dataclass(frozen=True)
class PipelineConfig:
    """What a converter needs from a pipeline.config. `height`/`width` are the
    fixed_shape_resizer's (default 300x300); for a keep_aspect_ratio_resizer they are its
    min_dimension and max_dimension (default 600 and 1024); None for other resizers.
    The anchor generator is `anchor_generator` (SSD) or else `first_stage_anchor_generator`
    (Faster R-CNN); post-processing is `post_processing` or else
    `second_stage_post_processing`. `box_coder` is the `box_coder { X }` key, "" when the
    meta-architecture has none; `box_coder_scales` are the faster_rcnn_box_coder's when it is
    that coder, else its defaults (10, 10, 5, 5). Fields and blocks left out take the protos'
    defaults: batch_non_max_suppression score_threshold 0, iou_threshold 0.6, 100 detections
    per class and in total; post_processing score_converter IDENTITY, logit_scale 1."""

    path: str
    meta_architecture: str
    num_classes: int
    feature_extractor: str
    resizer: str
    height: int | None
    width: int | None
    anchors: SsdAnchors | None
    anchor_generator: str
    box_coder_scales: tuple[float, float, float, float]
    score_threshold: float
    iou_threshold: float
    max_detections_per_class: int
    max_total_detections: int
    score_converter: str
    logit_scale: float = 1.0
    box_coder: str = "faster_rcnn_box_coder"


_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string or name"}


class _Block:
    """One message of the parsed config with typed reads. `where` is its dotted path from the
    top (`model.ssd.`); errors name the file and the field."""

    def __init__(self, fields: dict, where: str, path: str):
        self.fields, self.where, self.path = fields, where, path

    def fail(self, what: str):
        raise PipelineConfigError(f"pipeline config {self.path}: {what}")

    def _values(self, name: str, kind: type) -> list:
        values = self.fields.get(name, [])
        for value in values:
            if not _is_kind(value, kind):
                expected = _KINDS.get(kind, "a message { ... }")
                self.fail(f"{self.where}{name} must be {expected}, got {value!r}")
        return [float(v) if kind is float else v for v in values]

    def block(self, name: str) -> _Block | None:
        """The field's message (the last one given, as protobuf merges), None when absent."""
        values = self._values(name, dict)
        return _Block(values[-1], f"{self.where}{name}.", self.path) if values else None

    def one(self, name: str, kind: type, default):
        values = self._values(name, kind)
        return values[-1] if values else default

    def many(self, name: str, kind: type) -> tuple:
        return tuple(self._values(name, kind))

    def choice(self) -> tuple[str, _Block] | tuple[str, None]:
        """The member set in a message that holds one oneof (e.g. `image_resizer`)."""
        if not self.fields:
            return "", None
        if len(self.fields) > 1:
            self.fail(f"{self.where.rstrip('.')} sets {', '.join(self.fields)}; only one of "
                      f"them may be set")
        name = next(iter(self.fields))
        return name, self.block(name)


def _is_kind(value, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is bool:
        return isinstance(value, bool) or (type(value) is int and value in (0, 1))
    return isinstance(value, kind)


def read_pipeline_config(path) -> PipelineConfig:
    """Read an Object Detection API pipeline.config; see `PipelineConfig` for what is kept."""
    path = str(path)
    meta_architecture, arch = _meta_architecture(_Block(_parse(path), "", path))
    resizer, height, width = _resizer(arch.block("image_resizer"))
    anchor_generator, generator = _choice_of(arch, "anchor_generator",
                                             "first_stage_anchor_generator")
    box_coder, coder = _choice_of(arch, "box_coder")
    post = _first_block(arch, "post_processing", "second_stage_post_processing")
    nms = _first_block(post, "batch_non_max_suppression")
    feature_extractor = _first_block(arch, "feature_extractor")
    return PipelineConfig(
        path=path, meta_architecture=meta_architecture,
        num_classes=_num_classes(arch, meta_architecture),
        feature_extractor=feature_extractor.one("type", str, ""),
        resizer=resizer, height=height, width=width,
        anchors=_ssd_anchors(generator) if anchor_generator == "ssd_anchor_generator" else None,
        anchor_generator=anchor_generator,
        box_coder=box_coder,
        box_coder_scales=_box_coder_scales(
            coder if box_coder == "faster_rcnn_box_coder" else None),
        score_threshold=nms.one("score_threshold", float, 0.0),
        iou_threshold=nms.one("iou_threshold", float, 0.6),
        max_detections_per_class=nms.one("max_detections_per_class", int, 100),
        max_total_detections=nms.one("max_total_detections", int, 100),
        score_converter=post.one("score_converter", str, "IDENTITY"),
        logit_scale=post.one("logit_scale", float, 1.0),
    )


def _parse(path: str) -> dict:
    try:
        return parse_text_proto(_read_text(path), f"pipeline config {path}")
    except TextProtoSyntaxError as exc:
        raise PipelineConfigError(exc.detail) from exc


def _meta_architecture(top: _Block) -> tuple[str, _Block]:
    model = top.block("model")
    if model is None:
        top.fail("has no 'model { ... }' block; give the pipeline.config the Object Detection "
                 "API exported with the model")
    name, arch = model.choice()
    if arch is None:
        model.fail("model { } is empty; it must hold the meta-architecture's block, "
                   "e.g. 'ssd { ... }'")
    return name, arch


def _num_classes(arch: _Block, meta_architecture: str) -> int:
    num_classes = arch.one("num_classes", int, None)
    if num_classes is None or num_classes <= 0:
        found = "no num_classes" if num_classes is None else f"num_classes {num_classes}"
        arch.fail(f"model {{ {meta_architecture} {{ ... }} }} has {found}; set "
                  f"'num_classes: N' there, N being the number of object classes without "
                  f"the background")
    return num_classes


def _first_block(block: _Block, *names: str) -> _Block:
    """The first of the named messages present, or an empty one (all its fields default)."""
    for name in names:
        found = block.block(name)
        if found is not None:
            return found
    return _Block({}, f"{block.where}{names[0]}.", block.path)


def _choice_of(block: _Block, *names: str) -> tuple[str, _Block | None]:
    """The member set in the first of the named oneof messages present, ("", None) if none."""
    return _first_block(block, *names).choice()


def _read_text(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        state = "is not a file" if file.exists() else "does not exist"
        raise PipelineConfigError(f"pipeline config {path} {state}; give the pipeline.config "
                                  f"exported with the model")
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineConfigError(f"pipeline config {path} cannot be read as UTF-8 text "
                                  f"({exc}); give the pipeline.config exported with the "
                                  f"model") from exc


def _resizer(block: _Block | None) -> tuple[str, int | None, int | None]:
    name, resizer = block.choice() if block else ("", None)
    if name == "fixed_shape_resizer":
        return name, resizer.one("height", int, 300), resizer.one("width", int, 300)
    if name == "keep_aspect_ratio_resizer":
        return (name, resizer.one("min_dimension", int, 600),
                resizer.one("max_dimension", int, 1024))
    return name, None, None


def _box_coder_scales(coder: _Block | None) -> tuple[float, float, float, float]:
    coder = coder or _Block({}, "", "")     # the faster_rcnn_box_coder proto's defaults
    return (coder.one("y_scale", float, 10.0), coder.one("x_scale", float, 10.0),
            coder.one("height_scale", float, 5.0), coder.one("width_scale", float, 5.0))


def _ssd_anchors(block: _Block) -> SsdAnchors:
    defaults = SsdAnchors()
    return SsdAnchors(
        num_layers=block.one("num_layers", int, defaults.num_layers),
        min_scale=block.one("min_scale", float, defaults.min_scale),
        max_scale=block.one("max_scale", float, defaults.max_scale),
        scales=block.many("scales", float),
        aspect_ratios=block.many("aspect_ratios", float),
        interpolated_scale_aspect_ratio=block.one("interpolated_scale_aspect_ratio", float,
                                                  defaults.interpolated_scale_aspect_ratio),
        base_anchor_height=block.one("base_anchor_height", float, defaults.base_anchor_height),
        base_anchor_width=block.one("base_anchor_width", float, defaults.base_anchor_width),
        height_stride=block.many("height_stride", int),
        width_stride=block.many("width_stride", int),
        height_offset=block.many("height_offset", int),
        width_offset=block.many("width_offset", int),
        reduce_boxes_in_lowest_layer=bool(block.one("reduce_boxes_in_lowest_layer", bool,
                                                    defaults.reduce_boxes_in_lowest_layer)),
    )
