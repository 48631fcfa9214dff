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
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from doit.exceptions import TaskFailed

from .cache import Cache, cached_filename
from .errors import NO_SPACE_ERRNOS, PipelineError
from .fsutil import TEMP_SUFFIX, atomic_writer, remove_tree
from .integrity import check_tree
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
        except OSError as exc:
            if exc.errno not in NO_SPACE_ERRNOS:
                raise
            return TaskFailed(f"{entry.label}: {action.__name__} ran out of disk space writing "
                              f"{exc.filename or 'a file'} ({exc.strerror}); free some space in "
                              f"{cache.root} and the output folder, then run again")
    return run


# -- cache paths ----------------------------------------------------------------------------
def download_target(cache: Cache, entry: ModelEntry) -> Path:
    return cache.download_dir(entry.checksum) / cached_filename(entry.url)


# -- stages ---------------------------------------------------------------------------------
@reported
def download(cache: Cache, entry: ModelEntry):
    from .download import fetch

    fetch(entry, None, None, cache)


def _unpacked_tree(cache: Cache, entry: ModelEntry) -> Path:
    """The archive's unpacked tree, intact; the archive is re-hashed (and fetched again if it
    is gone or damaged) before anything is unpacked from it."""
    from .download import fetch
    from .unpack import unpack as unpack_archive

    found = cache.lookup_unpacked(entry.checksum)
    if found is not None:
        return found
    return unpack_archive(fetch(entry, None, None, cache), entry.checksum, cache,
                          label=entry.label, **unpack_limits(entry))


def unpack_limits(entry: ModelEntry) -> dict:
    return {"max_bytes": entry.max_unpacked_bytes, "max_files": entry.max_unpacked_files}


@reported
def unpack(cache: Cache, entry: ModelEntry):
    _unpacked_tree(cache, entry)


def _read_paths(location: dict) -> list[str]:
    """The parts of the unpacked tree that preparing and converting this model read: the
    model's folder (a SavedModel, or the folder of a file with its external data or
    checkpoint shards) and the pipeline config."""
    path = PurePosixPath(location["path"])
    kind = location["kind"]
    read = [str(path) if kind == "saved_model" else str(path.parent)]
    if location.get("pipeline_config"):
        read.append(location["pipeline_config"])
    return read


def _checked_tree(cache: Cache, entry: ModelEntry, location: dict) -> Path:
    """The unpacked tree, with the files of `location` checked; unpacked again if damaged."""
    tree = _unpacked_tree(cache, entry)
    problem = check_tree(tree, _read_paths(location))
    if problem is None:
        return tree
    with cache.lock("unpacked", entry.checksum.hexdigest):
        if check_tree(tree, _read_paths(location)) is not None:
            remove_tree(tree)
    return _unpacked_tree(cache, entry)


def prepared_entry(cache: Cache, entry: ModelEntry, key: str) -> tuple[Path, Path]:
    """The intact prepared entry and the unpacked tree it points into, rebuilt if damaged."""
    from .prepare import locate_model, prepare_model

    def build(staging: Path) -> None:
        tree = _unpacked_tree(cache, entry)
        location = locate_model(tree, entry.label, entry.model, entry.framework)
        tree = _checked_tree(cache, entry, asdict(location))
        prepare_model(tree, location, entry.options().output, staging)

    folder = cache.store_tree("prepared", key, build)
    location = json.loads((folder / "prepared.json").read_text())["location"]
    return folder, _checked_tree(cache, entry, location)


@reported
def prepare(cache: Cache, entry: ModelEntry, key: str):
    prepared_entry(cache, entry, key)


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
def convert(cache: Cache, entry: ModelEntry, precision: str, key: str, prepare_key: str, output_dir: Path):
    from .prepare import read_prepared

    def build(staging: Path) -> None:
        from converter.pipeline import convert_model

        prepared = read_prepared(*prepared_entry(cache, entry, prepare_key))
        started = time.perf_counter()
        convert_model(_conversion_options(cache, entry, prepared, precision, staging))
        record = {"model": entry.name, "precision": precision, "seconds": round(time.perf_counter() - started, 3),
                  "flags": json.loads(entry.flags_key())}
        (staging / "convert.json").write_text(json.dumps(record, indent=1, sort_keys=True))

    folder = cache.store_tree("ir", key, build)
    for suffix in (".xml", ".bin"):
        copy_out(folder / f"{entry.name}{suffix}", output_dir / f"{entry.name}{suffix}")


@reported
def verify(cache: Cache, entry: ModelEntry, precision: str, key: str, prepare_key: str, xml_path: Path):
    from .prepare import read_prepared

    def build(staging: Path) -> None:
        from .verify import verify_ir

        prepared = read_prepared(*prepared_entry(cache, entry, prepare_key))
        options = _conversion_options(cache, entry, prepared, precision, staging)
        report = verify_ir(xml_path, prepared["input_model"], prepared["framework"], precision=precision,
                           tolerance=entry.tolerance[precision], preprocessing=preprocessing_of(options, xml_path))
        # paths in the cache are the builder's; the report names what the user knows
        report.update(model=entry.name, ir=xml_path.name, source=prepared["location"]["path"])
        (staging / "verify.json").write_text(json.dumps(report, indent=1, sort_keys=True))

    folder = cache.store_tree("verify", key, build)
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
    """Per IR input, the mean/scale/reverse the converter baked in (the preprocessing pass's
    own plan, applied to the inputs the IR declares)."""
    from lxml import etree

    from converter.passes.preprocessing import input_plan

    root = etree.parse(str(xml_path)).getroot()
    result = {}
    for index, layer in enumerate(root.iterfind("layers/layer[@type='Parameter']")):
        port = layer.find("output/port")
        name = (port.get("names") or layer.get("name")).split(",")[0]
        shape = tuple(int(d.text) for d in port.findall("dim"))
        plan = input_plan(options, name, index, shape, options.framework == "tf")
        if plan is not None:
            result[name] = plan
    return result


def copy_out(source: Path, target: Path) -> None:
    """Copy a cached file to the output folder; the target appears whole or not at all.

    Temporaries of an earlier, killed copy are removed first: the run lock (see
    `ZooTasks.hold_run_lock`) means no other process is writing this manifest's outputs.
    """
    for leftover in target.parent.glob(f".{target.name}.*{TEMP_SUFFIX}"):
        leftover.unlink(missing_ok=True)
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
