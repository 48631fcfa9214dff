"""`--transformations_config` (alias `--tensorflow_use_custom_operations_config`): which of the
Model Optimizer's subgraph replacements a conversion asks for.

mo shipped JSON files of replacement rules; model manifests name them (often as
`$mo_ext_dir/front/tf/ssd_v2_support.json`). Here the SSD rules are built in: the shipped SSD
file names select them, and so does any JSON file of mo's replacement-config schema (a list of
{"id", "match_kind", "custom_attributes", ...}) that lists the SSD postprocessor replacement.
Anything else is refused with the reason.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ....errors import UserInputError
from ....replacement_names import SHIPPED_SSD_CONFIGS

SSD_POSTPROCESSOR_ID = "ObjectDetectionAPISSDPostprocessorReplacement"
# mo's other shipped files, refused by what they are for
SHIPPED_OTHER_CONFIGS = {
    "faster_rcnn_support": "Faster R-CNN", "rfcn_support": "R-FCN",
    "mask_rcnn_support": "Mask R-CNN", "retinanet": "RetinaNet", "efficient_det": "EfficientDet",
    "ssd_support_api_v2": "TensorFlow 2 Object Detection API SSD", "yolo_v": "YOLO",
    "center_net": "CenterNet",
}
_SUPPORTED = ("SSD with ssd_anchor_generator: give one of " + ", ".join(sorted(SHIPPED_SSD_CONFIGS))
              + f", or a JSON file listing the {SSD_POSTPROCESSOR_ID} replacement")


@dataclass(frozen=True)
class SsdRules:
    """What the requested SSD rules say beyond the pipeline.config: where boxes are clipped
    (None: as the exported graph clips them)."""

    clip_before_nms: bool | None = None
    clip_after_nms: bool | None = None


def ssd_rules(value: str) -> SsdRules:
    """The SSD rules `value` asks for; UserInputError when it asks for anything else."""
    name = PurePosixPath(value.replace("\\", "/")).name
    if name in SHIPPED_SSD_CONFIGS:
        return SsdRules()
    for prefix, what in SHIPPED_OTHER_CONFIGS.items():
        if name.startswith(prefix) and not Path(value).is_file():
            raise UserInputError(f"--transformations_config {value}: mo's {what} replacement "
                                 f"is not supported by this converter; supported: {_SUPPORTED}")
    return _rules_from_file(value)


def _rules_from_file(value: str) -> SsdRules:
    path = Path(value)
    if not path.is_file():
        raise UserInputError(f"--transformations_config {value}: no such file, and not the name "
                             f"of a supported replacement config; supported: {_SUPPORTED}")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserInputError(f"--transformations_config {value}: not a JSON file ({exc})") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "id" in e for e in entries):
        raise UserInputError(f"--transformations_config {value}: not a replacement config (a JSON "
                             f"list of objects with an \"id\", as mo's files are)")
    ssd = [e for e in entries if e["id"] == SSD_POSTPROCESSOR_ID]
    if not ssd:
        ids = ", ".join(sorted(str(e["id"]) for e in entries)) or "none"
        raise UserInputError(f"--transformations_config {value}: lists the replacements {ids}, "
                             f"none of which this converter has; supported: {_SUPPORTED}")
    return _rules_from_attributes(value, ssd[0].get("custom_attributes") or {})


def _rules_from_attributes(value: str, attributes) -> SsdRules:
    if not isinstance(attributes, dict):
        raise UserInputError(f"--transformations_config {value}: custom_attributes of "
                             f"{SSD_POSTPROCESSOR_ID} must be an object")
    clips = {}
    for key in ("clip_before_nms", "clip_after_nms"):
        if key in attributes:
            if not isinstance(attributes[key], bool):
                raise UserInputError(f"--transformations_config {value}: {key} must be true or "
                                     f"false, got {attributes[key]!r}")
            clips[key] = attributes[key]
    return SsdRules(**clips)
