"""`model_optimizer_args` of an Open Model Zoo model.yml, as our manifest's flags.

The arguments are mo command-line texts (`--mean_values=input[127.5]`, `--reverse_input_channels`)
with `$dl_dir`, `$conv_dir`, `$config_dir`, `$mo_dir` and `$mo_ext_dir` in them, which
omz_converter substitutes with `string.Template` (`$$` is a dollar sign; an unknown name is an
error). Here they are substituted with markers and read back:
- `--input_model`, `--input_meta_graph`, `--saved_model_dir` at `$dl_dir/PATH` become the
  model's `model` (PATH inside the download folder); the converter reads it where it lies;
- `--tensorflow_object_detection_api_pipeline_config=$dl_dir/PATH` is checked to lie in the
  download folder; prepare uses the pipeline.config nearest the model, which is that file in
  the Object Detection API's archives;
- `--transformations_config=$mo_ext_dir/front/tf/NAME.json` names one of mo's shipped files,
  which our converter knows by name;
- a path under `$conv_dir` is written by the model's `pre-convert.py`, which this build does not
  run: the model is reported as needing it.
mo accepts any unambiguous prefix of a flag name (`--input_meta`); so does this reading.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from converter.options import CONVERSION_FLAGS, INERT_FLAGS

DL_DIR, CONV_DIR, MO_DIR = "\x00dl_dir", "\x00conv_dir", "\x00mo_dir"
TEMPLATE_VALUES = {"dl_dir": DL_DIR, "conv_dir": CONV_DIR, "mo_dir": MO_DIR,
                   "mo_ext_dir": f"{MO_DIR}/extensions"}
MODEL_FLAGS = ("input_model", "input_meta_graph", "saved_model_dir")
PIPELINE_CONFIG = "tensorflow_object_detection_api_pipeline_config"
CONVERTER_FLAGS = CONVERSION_FLAGS | set(INERT_FLAGS) | set(MODEL_FLAGS)
# The Model Optimizer's other flags: a model.yml using one is well formed, but this converter
# cannot honour it yet, so the model is reported as not buildable (never silently converted).
MO_ONLY_FLAGS = frozenset({
    "freeze_placeholder_with_value", "disable_nhwc_to_nchw", "finegrain_fusing", "extensions",
    "move_to_preprocess", "tensorboard_logdir", "tensorflow_custom_layer_libraries",
    "tensorflow_custom_operations_config_update", "tensorflow_operation_patterns",
    "tensorflow_subgraph_patterns", "offload_unsupported_operations_to_tf", "steps",
    "layout", "source_layout", "target_layout", "use_new_frontend", "use_legacy_frontend",
    "transform",
})
KNOWN_FLAGS = tuple(sorted(CONVERTER_FLAGS | MO_ONLY_FLAGS))


class MoArgsError(ValueError):
    """An argument that cannot be read; the message names it."""


@dataclass
class Translated:
    """What the arguments say: our flags, the model's path in the download folder, and why
    the model cannot be built here (None: it can)."""

    flags: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    unsupported: str | None = None


def translate(args: list[str], config_dir: str) -> Translated:
    out = Translated()
    for index, raw in enumerate(args):
        name, value = split_flag(substitute(raw, config_dir, index), index)
        read_flag(out, name, value, index)
    return out


def substitute(raw: Any, config_dir: str, index: int) -> str:
    if not isinstance(raw, str):
        raise MoArgsError(f"#{index}: expected text, got {raw!r}")
    try:
        return string.Template(raw).substitute(TEMPLATE_VALUES, config_dir=config_dir)
    except KeyError as exc:
        raise MoArgsError(f"#{index} {raw!r}: unknown variable ${exc.args[0]} (known: "
                          f"$dl_dir, $conv_dir, $config_dir, $mo_dir, $mo_ext_dir)") from None
    except ValueError as exc:
        raise MoArgsError(f"#{index} {raw!r}: {exc} (write $$ for a dollar sign)") from None


def split_flag(text: str, index: int) -> tuple[str, str | bool]:
    """`--name=value` -> (full flag name, value); a bare `--name` is the switch turned on."""
    if not text.startswith("--"):
        raise MoArgsError(f"#{index} {_shown(text)!r}: expected --flag or --flag=value")
    name, sep, value = text[2:].partition("=")
    return full_flag_name(name, index), (value if sep else True)


def full_flag_name(name: str, index: int) -> str:
    if name in KNOWN_FLAGS:
        return name
    matches = [flag for flag in KNOWN_FLAGS if flag.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise MoArgsError(f"#{index} --{name}: ambiguous, could be {', '.join(matches)}")
    raise MoArgsError(f"#{index} --{name}: not a Model Optimizer flag this converter knows")


def read_flag(out: Translated, name: str, value: str | bool, index: int) -> None:
    if name in MO_ONLY_FLAGS and name not in CONVERTER_FLAGS:
        out.unsupported = out.unsupported or (f"it needs mo's --{name}, which this converter "
                                              "does not support yet")
    elif name in MODEL_FLAGS:
        out.model = _in_download_folder(out, name, value, index)
    elif name == PIPELINE_CONFIG:
        _in_download_folder(out, name, value, index)
    elif name in ("transformations_config", "tensorflow_use_custom_operations_config"):
        out.flags["transformations_config"] = _transformations_config(out, value, index)
    else:
        if isinstance(value, str) and "\x00" in value:
            raise MoArgsError(f"#{index} --{name}: a path variable where no path belongs")
        out.flags[name] = value


def _in_download_folder(out: Translated, name: str, value: str | bool, index: int) -> str | None:
    """The path relative to $dl_dir; a $conv_dir path marks the model as needing pre-convert."""
    if not isinstance(value, str):
        raise MoArgsError(f"#{index} --{name}: expected a path")
    if value.startswith(CONV_DIR + "/"):
        out.unsupported = (f"--{name} reads {value[len(CONV_DIR) + 1:]!r}, which the model's "
                           "pre-convert.py writes; that step is not run here")
        return None
    if not value.startswith(DL_DIR + "/"):
        raise MoArgsError(f"#{index} --{name}={_shown(value)}: expected a path under $dl_dir")
    path = PurePosixPath(value[len(DL_DIR) + 1:])
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise MoArgsError(f"#{index} --{name}: {str(path)!r} must stay inside $dl_dir")
    return str(path)


def _transformations_config(out: Translated, value: str | bool, index: int) -> str:
    if not isinstance(value, str):
        raise MoArgsError(f"#{index} --transformations_config: expected a path")
    if value.startswith(MO_DIR + "/"):
        return PurePosixPath(value).name
    out.unsupported = (f"--transformations_config={_shown(value)} is a custom replacement file; "
                       "this converter has built-in rules only for mo's shipped files")
    return PurePosixPath(value).name


def _shown(text: str) -> str:
    """The text with the markers spelled as the variables they stand for."""
    for name, marker in (("$mo_ext_dir", f"{MO_DIR}/extensions"), ("$dl_dir", DL_DIR),
                         ("$conv_dir", CONV_DIR), ("$mo_dir", MO_DIR)):
        text = text.replace(marker, name)
    return text
