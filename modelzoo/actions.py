"""What each doit task does. Heavy imports happen inside, only when there is real work.

Every action returns None on success or a `doit.exceptions.TaskFailed` whose message names the
model and says what went wrong, so a failing model reads as one clear line, never a traceback,
and (with doit's `continue`) the other models still build.
"""
from __future__ import annotations

import functools
import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from doit.exceptions import TaskFailed

from .cache import Cache
from .errors import NO_SPACE_ERRNOS, PipelineError
from .fsutil import TEMP_SUFFIX, atomic_writer, hash_file, remove_tree
from .integrity import RECORD, check_tree
from .keys import digest
from .manifest import ModelEntry

log = logging.getLogger(__name__)

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
            prefix = "" if text.startswith(entry.label) else f"{entry.label}: "
            return TaskFailed(f"{prefix}{text}")
        except OSError as exc:
            if exc.errno not in NO_SPACE_ERRNOS:
                raise
            return TaskFailed(f"{entry.label}: {action.__name__} ran out of disk space writing "
                              f"{exc.filename or 'a file'} ({exc.strerror}); free some space in "
                              f"{cache.root} and the output folder, then run again")
    return run


# -- cache paths ----------------------------------------------------------------------------
def source_tree_dir(cache: Cache, entry: ModelEntry) -> Path:
    """The cache folder of the model's source tree: the unpacked archive, or the assembled
    download folder of an Open Model Zoo model."""
    if entry.files:
        from .omz.assemble import folder_path

        return folder_path(cache, entry)
    return cache.unpacked_dir(entry.checksum)


def _tree_lock(cache: Cache, entry: ModelEntry):
    if entry.files:
        from .omz.assemble import KIND, folder_key

        return cache.lock(KIND, folder_key(entry))
    return cache.lock("unpacked", entry.checksum.hexdigest)


class Result(NamedTuple):
    """One result a model's later stages restore or build: the IR of a precision (its cache
    key) and, when the model is verified, the verdict's task key."""

    precision: str
    ir_key: str
    verify_key: str | None


def results_cached(cache: Cache, entry: ModelEntry, results: list[Result]) -> bool:
    """Whether every IR and verdict of `results` is in the cache (here or on the remote), so
    that nothing before them needs to run: no download, no unpacking, no freezing."""
    for result in results:
        record = cache.entry_record("ir", result.ir_key)
        if record is None:
            return False
        if result.verify_key is not None:
            hashes = [record["files"].get(f"{entry.name}{suffix}", [None, None])[1]
                      for suffix in (".xml", ".bin")]
            if None in hashes or not cache.has_entry("verify", verdict_key(entry, result.verify_key, hashes)):
                return False
    return True


def _needed(cache: Cache, entry: ModelEntry, results: list[Result], stage: str) -> bool:
    if results and results_cached(cache, entry, results):
        log.info("%s: its IR and verdicts are in the cache; nothing to %s", entry.label, stage)
        return False
    return True


# -- stages ---------------------------------------------------------------------------------
@reported
def download(cache: Cache, entry: ModelEntry, results: list[Result] = ()):
    from .download import fetch

    if not _needed(cache, entry, results, "fetch"):
        return
    if entry.files:
        from .omz.assemble import fetch_files

        fetch_files(cache, entry)
    else:
        fetch(entry, None, None, cache)


def _unpacked_tree(cache: Cache, entry: ModelEntry) -> Path:
    """The archive's unpacked tree, intact; the archive is re-hashed (and fetched again if it
    is gone or damaged) before anything is unpacked from it. An Open Model Zoo model's tree is
    its assembled download folder."""
    from .download import fetch
    from .unpack import unpack as unpack_archive

    if entry.files:
        from .omz.assemble import download_folder

        return download_folder(cache, entry)
    found = cache.lookup_unpacked(entry.checksum)
    if found is not None:
        return found
    return unpack_archive(fetch(entry, None, None, cache), entry.checksum, cache,
                          label=entry.label, **unpack_limits(entry))


def unpack_limits(entry: ModelEntry) -> dict:
    return {"max_bytes": entry.max_unpacked_bytes, "max_files": entry.max_unpacked_files}


@reported
def unpack(cache: Cache, entry: ModelEntry, results: list[Result] = ()):
    if _needed(cache, entry, results, "unpack"):
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
    with _tree_lock(cache, entry):
        if check_tree(tree, _read_paths(location)) is not None:
            remove_tree(tree)
    return _unpacked_tree(cache, entry)


def prepared_entry(cache: Cache, entry: ModelEntry, key: str) -> tuple[Path, Path]:
    """The intact prepared entry and the unpacked tree it points into, rebuilt if damaged."""
    from .prepare import locate_model, model_outputs, prepare_model

    def build(staging: Path) -> None:
        tree = _unpacked_tree(cache, entry)
        location = locate_model(tree, entry.label, entry.model, entry.framework)
        tree = _checked_tree(cache, entry, asdict(location))
        prepare_model(tree, location, model_outputs(entry.options().output, location), staging)

    folder = cache.store_tree("prepared", key, build)
    location = json.loads((folder / "prepared.json").read_text())["location"]
    return folder, _checked_tree(cache, entry, location)


@reported
def prepare(cache: Cache, entry: ModelEntry, key: str, results: list[Result] = ()):
    if _needed(cache, entry, results, "prepare"):
        prepared_entry(cache, entry, key)


def _conversion_options(cache: Cache, entry: ModelEntry, prepared: dict, precision: str, output_dir: Path):
    """The converter's options for one precision: the manifest's flags, and where the model is
    as `prepare` recorded it (a file by --input_model, a SavedModel by --saved_model_dir, a
    checkpoint by --input_meta_graph and --input_checkpoint, read from the unpacked tree). A
    SavedModel's IR outputs carry its signature's output names, as the verifier matches them,
    and --output may use those names: the converter's SavedModel reader sees to both."""
    from converter.options import ConversionOptions

    from .prepare import MODEL_FLAGS

    flags = dict(entry.flags)
    flags.update({flag: prepared[flag] for flag in MODEL_FLAGS if prepared.get(flag)})
    flags.update(output_dir=str(output_dir), model_name=entry.name,
                 data_type=precision, framework=prepared["framework"],
                 input_model_is_text=prepared["input_model_is_text"] or None)
    if prepared.get("pipeline_config") and "tensorflow_object_detection_api_pipeline_config" not in flags:
        flags["tensorflow_object_detection_api_pipeline_config"] = prepared["pipeline_config"]
    return ConversionOptions.from_flags(flags)


def _ir_entry(cache: Cache, entry: ModelEntry, precision: str, key: str, prepare_key: str) -> Path:
    """The cached IR of one model and precision, converted first if it is not there."""
    from .prepare import read_prepared

    def build(staging: Path) -> None:
        from converter.pipeline import convert_model

        from .summary import source_size

        folder, tree = prepared_entry(cache, entry, prepare_key)
        prepared = read_prepared(folder, tree)
        started = time.perf_counter()
        convert_model(_conversion_options(cache, entry, prepared, precision, staging))
        # what the summary shows of the source travels with the IR: a build that restores the
        # IR from the cache never unpacks the source
        record = {"model": entry.name, "precision": precision, "seconds": round(time.perf_counter() - started, 3),
                  "flags": json.loads(entry.flags_key()), "framework": prepared["framework"],
                  "source_bytes": source_size(tree, prepared["location"])}
        (staging / "convert.json").write_text(json.dumps(record, indent=1, sort_keys=True))

    return cache.store_tree("ir", key, build)


@reported
def convert(cache: Cache, entry: ModelEntry, precision: str, key: str, prepare_key: str, output_dir: Path):
    folder = _ir_entry(cache, entry, precision, key, prepare_key)
    for suffix in (".xml", ".bin"):
        copy_out(folder / f"{entry.name}{suffix}", output_dir / f"{entry.name}{suffix}")


class VerifyKeys(NamedTuple):
    """The keys a verify task needs: its own (everything but the IR's bytes), the IR's, and
    the prepared model's."""

    verify: str
    ir: str
    prepare: str


@reported
def verify(cache: Cache, entry: ModelEntry, precision: str, keys: VerifyKeys, xml_path: Path):
    """Verify the IR in the output folder, keyed on its bytes.

    The output must be the IR that was converted: if it was edited or damaged since, the
    converted bytes are put back first (with a warning). A verdict is cached under a key of
    the bytes checked, so a passing report is never restored for bytes it did not see. When
    the check cannot run at all, nothing is cached and the task fails saying so."""
    from .verify import VerifierUnavailable

    key = verdict_key(entry, keys.verify, _settled_ir(cache, entry, precision, keys, xml_path))

    def build(staging: Path) -> None:
        report = _verify_report(cache, entry, precision, keys.prepare, xml_path)
        (staging / "verify.json").write_text(json.dumps(report, indent=1, sort_keys=True))

    try:
        folder = cache.store_tree("verify", key, build)
    except (VerifierUnavailable, MemoryError) as exc:
        reason = str(exc) or "out of memory"
        return TaskFailed(f"{entry.label}, {precision}: could not verify: {reason}. This is no "
                          f"verdict on the IR; nothing was cached, and the next run tries again.")
    copy_out(folder / "verify.json", xml_path.parent / "verify.json")
    report = json.loads((folder / "verify.json").read_text())
    if not report["passed"]:
        from .verify import VerificationError, assert_passed

        try:
            assert_passed(report, entry.name)
        except VerificationError as exc:
            return TaskFailed(f"{entry.label}, {precision}: {exc}")
    return None


def verdict_key(entry: ModelEntry, verify_key: str, ir_hashes: list[str]) -> str:
    """The cache key of a verdict: the task's key, the IR's bytes and the input files' bytes."""
    inputs = [hash_file(path, "sha256") for path in entry.verify_input_files()] \
        if entry.verify_inputs else []
    return digest(verify_key, ir_hashes, inputs)


def _settled_ir(cache: Cache, entry: ModelEntry, precision: str, keys: VerifyKeys,
                xml_path: Path) -> list[str]:
    """The sha256 of the output .xml and .bin, after putting the converted bytes back where
    the output differs from them."""
    folder = _ir_entry(cache, entry, precision, keys.ir, keys.prepare)
    record = json.loads((folder / RECORD).read_text())["files"]
    hashes = []
    for suffix in (".xml", ".bin"):
        name = f"{entry.name}{suffix}"
        target = xml_path.with_suffix(suffix)
        expected = record[name][1]
        actual = hash_file(target, "sha256") if target.is_file() else None
        if actual != expected:
            log.warning("%s: %s differs from the IR that was converted (edited or damaged); "
                        "putting the converted bytes back", entry.label, target)
            copy_out(folder / name, target)
        hashes.append(expected)
    return hashes


def _verify_report(cache: Cache, entry: ModelEntry, precision: str, prepare_key: str,
                   xml_path: Path) -> dict:
    from .prepare import read_prepared
    from .verify import verify_ir

    folder, tree = prepared_entry(cache, entry, prepare_key)
    prepared = read_prepared(folder, tree)
    report = verify_ir(xml_path, source_model(entry, prepared["location"], tree),
                       precision=precision, tolerance=entry.tolerance.get(precision),
                       flags=dict(entry.flags), inputs=entry.verify_inputs,
                       base_dir=entry.manifest.parent)
    # paths in the cache are the builder's; the report names what the user knows
    report.update(model=entry.name, ir=xml_path.name, source=prepared["location"]["path"])
    return report


def source_model(entry: ModelEntry, location: dict, tree: Path):
    """The original model for the reference: the file, SavedModel or checkpoint as it lies in
    the unpacked archive (never the frozen copy `prepare` made for the converter)."""
    from .prepare import model_outputs
    from .verify import SourceModel, cut_names

    options = entry.options()
    checkpoint = location.get("checkpoint")
    return SourceModel(path=tree / location["path"], framework="onnx" if location["kind"] == "onnx" else "tf",
                       kind=location["kind"], checkpoint=tree / checkpoint if checkpoint else None,
                       tags=tuple(options.saved_model_tags),
                       inputs=cut_names(entry.flags.get("input")),
                       outputs=model_outputs(options.output, location))


def report_skipped(entry: ModelEntry) -> None:
    print(f"{entry.label}: skipped, not built yet: {entry.skip}")


def report_unreadable(entry: ModelEntry) -> TaskFailed:
    """The task of a model whose description cannot be used: it fails alone, saying why."""
    return TaskFailed(entry.error)


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
