"""One Open Model Zoo `model.yml`, read as Open Model Zoo's own tools read it, into a ModelEntry.

The rules follow omz_tools' `_configuration.py` and `download_engine/`: `files` (relative
`name`, `size`, `checksum` as sha384 hex or `{$type, value}`, `source` as a URL or
`{$type: http, url}`), `postprocessing` (`unpack_archive`, `regex_replace`), `framework`,
`model_optimizer_args`, `input_info`; `original_source` is ignored. What cannot be read makes
an entry that fails alone, its error naming the file and the key; what is readable but not
buildable here (a PyTorch model, an IR, a Google Drive file, a pre-convert step) is skipped
with the reason, as the report shows.
"""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Mapping

from converter.errors import UserInputError
from converter.options import ConversionOptions

from ..cache import Checksum
from ..manifest import ModelEntry, SourceFile
from .mo_args import MoArgsError, translate

RE_MODEL_NAME = re.compile(r"[0-9a-zA-Z._-]+")
CONVERTED = {"tf": "tf", "onnx": "onnx"}
NOT_BUILT = {
    "pytorch": "a PyTorch model: omz_converter first exports it to ONNX through PyTorch "
               "(conversion_to_onnx_args), which this build does not run",
    "dldt": "already OpenVINO IR (framework dldt): there is nothing to convert",
    "paddle": "a PaddlePaddle model: this converter reads ONNX and TensorFlow",
    "caffe": "a Caffe model: this converter reads ONNX and TensorFlow",
    "mxnet": "an MXNet model: this converter reads ONNX and TensorFlow",
}
POSTPROCESSING = ("unpack_archive", "regex_replace")
KEPT_INFO = ("description", "license", "task_type", "model_info")
# Where each framework's converter expects the channels of an image input.
CHANNEL_LAST = {"tf": True, "onnx": False}


class YmlError(ValueError):
    """A rule of the format broken; `key` says where."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"key {key!r}: {problem}")


def read_entry(yml: Path, settings: Mapping[str, Any]) -> ModelEntry:
    """The entry of the model described by `yml`; `settings` are the ModelEntry fields the
    pointing TOML's [defaults] give (precisions, tolerance, verify, limits)."""
    name = yml.parent.name
    base = {"name": name, "url": None, "checksum": None, "manifest": yml, "layout": "omz",
            **settings}
    try:
        data = _load(yml)
        if not RE_MODEL_NAME.fullmatch(name):
            raise YmlError("name", f"the folder name {name!r} must consist of letters, digits "
                                   "or ._- (it is the model's name)")
        return ModelEntry(**base, **_fields(yml, name, data))
    except YmlError as exc:
        return ModelEntry(**base, error=f"{yml}: {exc}; fix the file (see Open Model Zoo's "
                                        "model.yml format)")


def _load(yml: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(yml.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise YmlError("(file)", f"cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        raise YmlError("(file)", f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise YmlError("(file)", "expected a mapping of keys (files, framework, ...)")
    return data


def _fields(yml: Path, name: str, data: dict) -> dict[str, Any]:
    label = f"{yml}, model {name!r}"
    files = _files(data.get("files"), label)
    framework = _framework(data)
    skip = NOT_BUILT.get(framework) or _unfetchable(files)
    fields: dict[str, Any] = {"files": files, "postprocessing": _postprocessing(data),
                              "info": MappingProxyType(_info(data)),
                              "description": str(data.get("description") or "").strip()}
    if framework not in CONVERTED:
        return {**fields, "skip": skip}
    inputs = _input_info(data)
    try:
        translated = translate(_mo_args(data), str(yml.parent))
    except MoArgsError as exc:
        raise YmlError("model_optimizer_args", str(exc)) from None
    flags = {**_input_flags(inputs), **translated.flags}
    _check_flags(flags)
    skip = (skip or translated.unsupported or _pre_convert(yml)
            or _layout_mismatch(inputs, framework))
    return {**fields, "framework": CONVERTED[framework], "model": translated.model,
            "flags": MappingProxyType(flags), "skip": skip}


# -- files and their sources ----------------------------------------------------------------

def _files(value: Any, label: str) -> tuple[SourceFile, ...]:
    if not isinstance(value, list) or not value:
        raise YmlError("files", "expected a non-empty list of {name, size, checksum, source}")
    files, names = [], set()
    for index, item in enumerate(value):
        where = f"files #{index}"
        if not isinstance(item, dict):
            raise YmlError(where, "expected a mapping with name, size, checksum and source")
        name = _relative_path(f"{where} name", item.get("name"))
        if name in names:
            raise YmlError(f"{where} name", f"duplicate file name {name!r}")
        names.add(name)
        size = item.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise YmlError(f"{where} size", f"expected a non-negative integer, got {size!r}")
        files.append(SourceFile(name, _source(f"{where} source", item.get("source")),
                                _checksum(f"{where} checksum", item.get("checksum")), size,
                                f"{label}, file {name!r}"))
    return tuple(files)


def _relative_path(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise YmlError(key, f"expected a relative path, got {value!r}")
    path = PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or re.match(r"[A-Za-z]:", value) or ".." in path.parts:
        raise YmlError(key, f"{value!r}: disallowed absolute path or parent traversal")
    return str(path)


def _checksum(key: str, value: Any) -> Checksum:
    """A bare hex string is sha384 (as omz_tools reads it); `{$type: sha384|sha256, value}`
    and `sha256:HEX` say their algorithm."""
    if isinstance(value, dict):
        algo, digest = value.get("$type"), value.get("value")
    elif isinstance(value, str) and ":" in value:
        algo, _, digest = value.partition(":")
    else:
        algo, digest = "sha384", value
    lengths = {"sha384": 96, "sha256": 64}
    if algo not in lengths:
        raise YmlError(key, f"checksum type {algo!r} is not one of sha384, sha256")
    if not isinstance(digest, str) or not re.fullmatch(rf"[0-9a-fA-F]{{{lengths[algo]}}}", digest):
        raise YmlError(key, f"expected {lengths[algo]} hex digits ({algo}), got {digest!r}")
    return Checksum(algo, digest.lower())


def _source(key: str, value: Any) -> str:
    """The URL to fetch; a Google Drive source keeps its id (`gdrive:ID`), fetched nowhere."""
    if isinstance(value, str):
        value = {"$type": "http", "url": value}
    if not isinstance(value, dict):
        raise YmlError(key, f"expected a URL or a mapping with $type, got {value!r}")
    kind = value.get("$type")
    if kind == "http":
        url = value.get("url")
        if not isinstance(url, str) or not url.strip():
            raise YmlError(key, f"expected a URL, got {url!r}")
        return url.strip()
    if kind == "google_drive":
        if not isinstance(value.get("id"), str):
            raise YmlError(key, "a google_drive source needs its file id")
        return f"gdrive:{value['id']}"
    raise YmlError(key, f"unknown source $type {kind!r} (expected http or google_drive)")


def _unfetchable(files: tuple[SourceFile, ...]) -> str | None:
    drive = [f.name for f in files if f.url.startswith("gdrive:")]
    if drive:
        return (f"{', '.join(drive)} come(s) from Google Drive, which needs an interactive "
                "confirmation and cannot be fetched offline; mirror the file and give its URL")
    return None


# -- postprocessing, framework, inputs ------------------------------------------------------

def _list_of(data: dict, key: str, what: str) -> list:
    """The list under `key` (empty when absent)."""
    value = data.get(key, [])
    if not isinstance(value, list):
        raise YmlError(key, f"expected a list of {what}")
    return value


def _postprocessing(data: dict) -> tuple[Mapping[str, Any], ...]:
    steps = []
    for index, step in enumerate(_list_of(data, "postprocessing", "steps")):
        where = f"postprocessing #{index}"
        if not isinstance(step, dict) or step.get("$type") not in POSTPROCESSING:
            raise YmlError(where, f"expected a step with $type one of {', '.join(POSTPROCESSING)}")
        file = _relative_path(f"{where} file", step.get("file"))
        if step["$type"] == "unpack_archive":
            steps.append(MappingProxyType({"$type": "unpack_archive", "file": file,
                                           "format": _archive_format(where, step)}))
        else:
            steps.append(MappingProxyType({"$type": "regex_replace", "file": file,
                                           **_regex_fields(where, step)}))
    return tuple(steps)


def _archive_format(where: str, step: dict) -> str:
    from ..unpack import ARCHIVE_FORMATS

    value = step.get("format")
    if value not in ARCHIVE_FORMATS:
        raise YmlError(f"{where} format", f"expected one of {', '.join(ARCHIVE_FORMATS)}, got "
                                          f"{value!r}")
    return value


def _regex_fields(where: str, step: dict) -> dict[str, Any]:
    pattern, replacement = step.get("pattern"), step.get("replacement")
    if not isinstance(pattern, str):
        raise YmlError(f"{where} pattern", f"expected a regular expression, got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise YmlError(f"{where} pattern", f"not a valid regular expression ({exc})") from None
    if not isinstance(replacement, str):
        raise YmlError(f"{where} replacement", f"expected text, got {replacement!r}")
    count = step.get("count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise YmlError(f"{where} count", f"expected a non-negative integer, got {count!r}")
    return {"pattern": pattern, "replacement": replacement, "count": count}


def _framework(data: dict) -> str:
    value = data.get("framework")
    if not isinstance(value, str) or value not in (*CONVERTED, *NOT_BUILT):
        raise YmlError("framework", f"expected one of {', '.join([*CONVERTED, *NOT_BUILT])}, "
                                    f"got {value!r}")
    if value == "pytorch" and not data.get("conversion_to_onnx_args"):
        raise YmlError("conversion_to_onnx_args", "absent; framework pytorch is supported only "
                                                  "by conversion to ONNX")
    return value


def _mo_args(data: dict) -> list:
    value = data.get("model_optimizer_args")
    if not isinstance(value, list):
        raise YmlError("model_optimizer_args", "expected a list of mo arguments")
    return value


def _input_info(data: dict) -> list[tuple[str, list[int], str]]:
    inputs = []
    for index, item in enumerate(_list_of(data, "input_info", "{name, shape, layout}")):
        where = f"input_info #{index}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise YmlError(where, "expected a mapping with the input's name")
        shape = item.get("shape", [])
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool)
                                                  for d in shape):
            raise YmlError(f"{where} shape", f"expected a list of integers, got {shape!r}")
        layout = item.get("layout", "")
        if not isinstance(layout, str):
            raise YmlError(f"{where} layout", f"expected text like NCHW, got {layout!r}")
        inputs.append((item["name"], shape, layout))
    return inputs


def _input_flags(inputs: list[tuple[str, list[int], str]]) -> dict[str, str]:
    """As omz_converter: --input names every input_info entry, --input_shape their shapes."""
    if not inputs:
        return {}
    flags = {"input": ",".join(name for name, _, _ in inputs)}
    shapes = [shape for _, shape, _ in inputs if shape]
    if shapes:
        flags["input_shape"] = ",".join("[" + ",".join(map(str, s)) + "]" for s in shapes)
    return flags


def _check_flags(flags: dict[str, Any]) -> None:
    try:
        ConversionOptions.from_flags(flags)
    except UserInputError as exc:
        raise YmlError("model_optimizer_args", str(exc)) from None


def _pre_convert(yml: Path) -> str | None:
    if (yml.parent / "pre-convert.py").is_file():
        return ("the model has a pre-convert.py (a TensorFlow export step before mo), which "
                "this build does not run")
    return None


def _layout_mismatch(inputs: list[tuple[str, list[int], str]], framework: str) -> str | None:
    """An image input whose channel axis is not where the framework's converter puts it."""
    for name, _, layout in inputs:
        if len(layout) >= 4 and "C" in layout:
            if (layout.index("C") == len(layout) - 1) != CHANNEL_LAST[framework]:
                return (f"input {name!r} has layout {layout}, but {framework} image inputs are "
                        f"read with channels {'last' if CHANNEL_LAST[framework] else 'first'}")
    return None


def _info(data: dict) -> dict[str, Any]:
    return {key: data[key] for key in KEPT_INFO if key in data}

