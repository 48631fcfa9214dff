"""What each doit task does. Heavy imports happen inside, only when there is real work.

Every action returns None on success or a `doit.exceptions.TaskFailed` whose message names the
model and says what went wrong, so a failing model reads as one clear line, never a traceback,
and (with doit's `continue`) the other models still build.
"""
from __future__ import annotations

import functools
import json
import shutil
import time
from pathlib import Path

from doit.exceptions import TaskFailed

from .cache import Cache, _split
from .download import _filename
from .errors import PipelineError
from .fsutil import atomic_directory, atomic_writer, remove_stale_staging
from .manifest import ModelEntry

try:  # the converter's own errors are user-facing too
    from converter.errors import ConversionError as _ConversionError
except ImportError:  # pragma: no cover
    _ConversionError = PipelineError


def reported(action):
    """Turn our own errors into TaskFailed with a clear message (bugs keep their traceback)."""
    @functools.wraps(action)
    def run(cache: Cache, entry: ModelEntry, *args):
        try:
            return action(cache, entry, *args)
        except (PipelineError, _ConversionError) as exc:
            text = str(exc)
            prefix = "" if entry.name in text else f"{entry.label}: "
            return TaskFailed(f"{prefix}{text}")
    return run


# -- cache paths ----------------------------------------------------------------------------
def download_target(cache: Cache, entry: ModelEntry) -> Path:
    return cache.download_dir(entry.checksum) / _filename(entry.url)


def unpacked_marker(cache: Cache, entry: ModelEntry) -> Path:
    return cache.unpacked_dir(entry.checksum)


def tree_dir(cache: Cache, kind: str, key: str) -> Path:
    head, rest = _split(key)
    return cache.root / kind / head / rest


def store_tree(cache: Cache, kind: str, key: str, build) -> Path:
    """The cache folder `kind/<key>`, built by `build(staging)` under the entry's lock if absent."""
    final = tree_dir(cache, kind, key)
    if final.is_dir():
        return final
    with cache.lock(kind, key):
        if not final.is_dir():
            remove_stale_staging(final)
            with atomic_directory(final) as staging:
                build(staging)
    return final


# -- stages ---------------------------------------------------------------------------------
@reported
def download(cache: Cache, entry: ModelEntry):
    from .download import fetch

    fetch(entry, None, None, cache)


@reported
def unpack(cache: Cache, entry: ModelEntry):
    from .unpack import unpack as unpack_archive

    unpack_archive(download_target(cache, entry), entry.checksum, cache, label=entry.label)


@reported
def prepare(cache: Cache, entry: ModelEntry, key: str):
    from .prepare import locate_model, prepare_model

    tree = unpacked_marker(cache, entry)
    location = locate_model(tree, entry.label, entry.model, entry.framework)
    outputs = entry.options().output
    store_tree(cache, "prepared", key, lambda staging: prepare_model(tree, location, outputs, staging))


def _conversion_options(cache: Cache, entry: ModelEntry, prepared: dict, precision: str, output_dir: Path):
    from converter.options import ConversionOptions

    flags = dict(entry.flags)
    flags.update(input_model=prepared["input_model"], output_dir=str(output_dir), model_name=entry.name,
                 data_type=precision, framework=prepared["framework"],
                 input_model_is_text=prepared["input_model_is_text"] or None)
    if prepared.get("pipeline_config") and "tensorflow_object_detection_api_pipeline_config" not in flags:
        flags["tensorflow_object_detection_api_pipeline_config"] = prepared["pipeline_config"]
    return ConversionOptions.from_flags(flags)


@reported
def convert(cache: Cache, entry: ModelEntry, precision: str, key: str, prepared_dir: Path, output_dir: Path):
    from .prepare import read_prepared

    def build(staging: Path) -> None:
        from converter.pipeline import convert_model

        prepared = read_prepared(prepared_dir, unpacked_marker(cache, entry))
        started = time.perf_counter()
        convert_model(_conversion_options(cache, entry, prepared, precision, staging))
        record = {"model": entry.name, "precision": precision, "seconds": round(time.perf_counter() - started, 3),
                  "flags": json.loads(entry.flags_key())}
        (staging / "convert.json").write_text(json.dumps(record, indent=1, sort_keys=True))

    folder = store_tree(cache, "ir", key, build)
    for suffix in (".xml", ".bin"):
        copy_out(folder / f"{entry.name}{suffix}", output_dir / f"{entry.name}{suffix}")


@reported
def verify(cache: Cache, entry: ModelEntry, precision: str, key: str, prepared_dir: Path, xml_path: Path):
    from .prepare import read_prepared

    def build(staging: Path) -> None:
        from .verify import verify_ir

        prepared = read_prepared(prepared_dir, unpacked_marker(cache, entry))
        options = _conversion_options(cache, entry, prepared, precision, staging)
        report = verify_ir(xml_path, prepared["input_model"], prepared["framework"], precision=precision,
                           tolerance=entry.tolerance[precision], preprocessing=preprocessing_of(options, xml_path))
        # paths in the cache are the builder's; the report names what the user knows
        report.update(model=entry.name, ir=xml_path.name, source=prepared["location"]["path"])
        (staging / "verify.json").write_text(json.dumps(report, indent=1, sort_keys=True))

    folder = store_tree(cache, "verify", key, build)
    copy_out(folder / "verify.json", xml_path.parent / "verify.json")
    report = json.loads((folder / "verify.json").read_text())
    if not report["passed"]:
        from .verify import VerificationError, assert_passed

        try:
            assert_passed(report, entry.name)
        except VerificationError as exc:
            return TaskFailed(f"{entry.label}, {precision}: {exc}")
    return None


def preprocessing_of(options, xml_path: Path) -> dict:
    """Per IR input, the mean/scale/reverse the converter baked in (see passes/preprocessing)."""
    from lxml import etree

    root = etree.parse(str(xml_path)).getroot()
    layout_last = options.framework == "tf"
    result = {}
    for index, layer in enumerate(root.iterfind("layers/layer[@type='Parameter']")):
        port = layer.find("output/port")
        name = (port.get("names") or layer.get("name")).split(",")[0]
        rank = len(port.findall("dim"))
        mean = options.per_input("mean_values", name, index)
        scale = options.per_input("scale_values", name, index) or (
            (options.scale,) if options.scale is not None else None)
        axis = rank - 1 if layout_last else min(1, rank - 1)
        dims = [int(d.text) for d in port.findall("dim")]
        reverse = options.reverse_input_channels and rank > 0 and dims[axis] == 3
        if mean or scale or reverse:
            result[name] = {"mean": mean, "scale": scale, "reverse": reverse, "channel_axis": axis}
    return result


def copy_out(source: Path, target: Path) -> None:
    """Copy a cached file to the output folder; the target appears whole or not at all."""
    with atomic_writer(target) as handle, open(source, "rb") as data:
        shutil.copyfileobj(data, handle, 1 << 20)


def clean_outputs(paths: list[Path]) -> None:
    """`doit clean`: remove the outputs and the folders they leave empty (never the cache)."""
    for path in paths:
        Path(path).unlink(missing_ok=True)
    for path in paths:
        for folder in (Path(path).parent, Path(path).parent.parent):
            try:
                folder.rmdir()
            except OSError:
                pass
