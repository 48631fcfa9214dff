"""The doit tasks of a manifest: download -> unpack -> prepare -> convert -> verify, per model.

`dodo.py` only forwards to `ZooTasks`. Every task is keyed so that doit's own up-to-date check
(the task's content key, see `modelzoo.uptodate`, and for convert and verify their output files)
skips what has not changed, and every action first looks in the content-addressed cache (and the
remote cache behind it), so a build with a fresh `.doit.db` (or a fresh checkout with the old
`cache/`) restores outputs instead of rebuilding them; the download, unpack and prepare actions
do nothing when their model's IR and verdicts are cached already. `shard=K/N` keeps a
deterministic part of the models. Nothing here imports numpy, onnx, TensorFlow or fsspec: the
actions do, and only when they have real work.
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import actions
from .cache import Cache
from .keys import code_digest, digest, runtime_versions
from .manifest import Manifest, ModelEntry, load_manifest
from .remote import remote_for
from .uptodate import ContentKeys

MANIFEST_VAR = "manifest"
RUN_LOCK = ".doit.lock"
# The code whose edits change each stage's output (prepare freezes an Object Detection API
# checkpoint with the TF frontend's reader, falling back to its freeze.py).
PREPARE_CODE = ("modelzoo/prepare.py", "converter/frontends/tf")
CONVERTER_CODE = ("converter",)
VERIFY_CODE = ("modelzoo/verify", "modelzoo/runtime.py", "converter/ir/validator.py")
# The tasks whose actions may run on another machine (`modelzoo.distributed`): the heavy ones.
WORKER = {"worker": True}
# The runtimes whose versions can change a verification's verdict.
VERIFY_RUNTIMES = ("openvino", "onnxruntime", "onnx", "tensorflow", "tensorflow-cpu", "numpy")


class ZooTasks:
    def __init__(self, manifest_path: str | Path, workdir: str | Path | None = None,
                 shard: str | None = None):
        """`shard` ("K/N", doit's `shard=K/N`): build only the K-th of N disjoint parts."""
        self.manifest: Manifest = load_manifest(manifest_path, workdir=workdir)
        self.models = select_shard(self.manifest.models, shard, self.manifest.path)
        self.cache = Cache(self.manifest.cache_dir, remote=remote_for(self.manifest.remote_cache))
        self._prepare_keys: dict[str, str] = {}  # by model name: keys are asked for per stage
        self._flags_keys: dict[str, str] = {}
        self._ir_files: dict[tuple[str, str], list[str]] = {}
        self.keys = ContentKeys()  # the content key of every task, and its up-to-date check

    def hold_run_lock(self) -> None:
        """Take the manifest's run lock (`.doit.lock` beside it) for the life of the process,
        waiting for another doit run on the same manifest to finish first.

        A plain flock on an open file: the kernel drops it when the process ends, however it
        ends, and it costs nothing to import on the no-op path (filelock's package does)."""
        import fcntl

        self.manifest.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.manifest.state_dir / RUN_LOCK
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another doit run on {self.manifest.path} to finish "
                  f"(lock {path})", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        self._run_lock = handle  # keep it open: the lock lives as long as this object

    # -- paths and keys -------------------------------------------------------------------
    def prepare_key(self, entry: ModelEntry) -> str:
        # Asked for by four stages of every model: parse its flags once (the no-op path).
        key = self._prepare_keys.get(entry.name)
        if key is None:
            key = self._prepare_keys[entry.name] = digest(
                "prepare", entry.source_key, entry.model, entry.framework,
                list(entry.options().output), list(entry.options().saved_model_tags),
                code_digest(*PREPARE_CODE))
        return key

    def prepared_dir(self, entry: ModelEntry) -> Path:
        return self.cache.tree_dir("prepared", self.prepare_key(entry))

    def flags_key(self, entry: ModelEntry) -> str:
        key = self._flags_keys.get(entry.name)
        if key is None:
            key = self._flags_keys[entry.name] = entry.flags_key()
        return key

    def ir_key(self, entry: ModelEntry, precision: str) -> str:
        # The model's name is in the key: it names the IR's files and its network.
        return digest("convert", entry.name, self.prepare_key(entry), self.flags_key(entry),
                      precision, code_digest(*CONVERTER_CODE))

    def verify_key(self, entry: ModelEntry, precision: str) -> str:
        """What a verdict depends on besides the IR's bytes (which the action adds): the
        conversion, the tolerance, the inputs asked for, the verifier's code and the
        runtimes' versions (upgrading OpenVINO re-verifies)."""
        return digest("verify", self.ir_key(entry, precision), entry.tolerance.get(precision),
                      self.flags_key(entry), entry.verify_inputs, code_digest(*VERIFY_CODE),
                      runtime_versions(VERIFY_RUNTIMES))

    def output_dir(self, entry: ModelEntry, precision: str) -> Path:
        """NAME/PRECISION under the output folder; public/NAME/PRECISION for an Open Model Zoo
        model, where omz_converter puts it."""
        if entry.layout == "omz":
            return self.manifest.output_dir / "public" / entry.name / precision
        return self.manifest.output_dir / entry.name / precision

    def ir_files(self, entry: ModelEntry, precision: str) -> list[str]:
        """The IR's .xml and .bin as strings (doit's task lists; built once per model and
        precision, since path arithmetic over hundreds of tasks shows on the no-op path)."""
        files = self._ir_files.get((entry.name, precision))
        if files is None:
            stem = f"{self.output_dir(entry, precision)}/{entry.name}"
            files = self._ir_files[(entry.name, precision)] = [f"{stem}.xml", f"{stem}.bin"]
        return files

    def cache_entries(self, entry: ModelEntry, precisions: bool = True):
        """(kind, key) of the cache entries building `entry` makes: its downloads, its source
        tree, its prepared model and (with `precisions`) its IR per precision; the verdicts
        are keyed by the IR's bytes as well (see `verdict_entry`)."""
        for source in entry.files or (entry,):
            yield f"downloads/{source.checksum.algo}", source.checksum.hexdigest
        if entry.files:
            from .omz.assemble import KIND, folder_key

            yield KIND, folder_key(entry)
        else:
            yield "unpacked", entry.checksum.hexdigest
        yield "prepared", self.prepare_key(entry)
        if precisions:
            for precision in entry.precisions:
                yield "ir", self.ir_key(entry, precision)

    def verdict_entry(self, entry: ModelEntry, precision: str, ir_record: dict) -> tuple[str, str]:
        """(kind, key) of the verdict on the IR whose integrity record is `ir_record`."""
        hashes = [ir_record["files"][f"{entry.name}{suffix}"][1] for suffix in (".xml", ".bin")]
        return "verify", actions.verdict_key(entry, self.verify_key(entry, precision), hashes)

    # -- tasks ----------------------------------------------------------------------------
    @property
    def built(self) -> list[ModelEntry]:
        """The models to build: all but those the manifest skips (with its reason) and those
        whose description is unusable (their convert task fails, saying why)."""
        return [entry for entry in self.models if not entry.skip and not entry.error]

    def results(self, entry: ModelEntry) -> list[actions.Result]:
        """What the model's convert and verify tasks will restore or build, per precision: the
        download, unpack and prepare actions skip their work when all of it is in the cache."""
        return [actions.Result(precision, self.ir_key(entry, precision),
                               self.verify_key(entry, precision) if entry.verify else None)
                for precision in entry.precisions]

    # The earlier stages declare no cache paths as targets or file dependencies: their entries
    # are content-addressed, so each task's content key says all doit needs to know, and a
    # stage whose work is not needed (its model's IR and verdicts are in the cache already, as
    # on a fresh clone with a remote cache) can leave its entry out.
    def download(self):
        for entry in self.built:
            urls = [source.url for source in entry.files or (entry,)]
            yield {"name": entry.name, "actions": [(actions.download, [self.cache, entry, self.results(entry)])],
                   "uptodate": [self.keys.check(f"download:{entry.name}", digest(entry.source_key, urls))],
                   "doc": f"fetch {', '.join(urls)}", "verbosity": 2, "meta": WORKER}

    def unpack(self):
        for entry in self.built:
            key = digest("unpack", entry.source_key, actions.unpack_limits(entry))
            yield {"name": entry.name, "actions": [(actions.unpack, [self.cache, entry, self.results(entry)])],
                   "task_dep": [f"download:{entry.name}"],
                   "uptodate": [self.keys.check(f"unpack:{entry.name}", key)], "meta": WORKER}

    def prepare(self):
        for entry in self.built:
            yield {"name": entry.name,
                   "actions": [(actions.prepare, [self.cache, entry, self.prepare_key(entry), self.results(entry)])],
                   "task_dep": [f"unpack:{entry.name}"],
                   "uptodate": [self.keys.check(f"prepare:{entry.name}", self.prepare_key(entry))],
                   "meta": WORKER}

    def convert(self):
        for entry in self.models:
            if entry.error:
                yield {"name": entry.name, "actions": [(actions.report_unreadable, [entry])],
                       "verbosity": 2, "uptodate": [False], "doc": "unreadable model description"}
                continue
            if entry.skip:
                yield {"name": entry.name, "actions": [(actions.report_skipped, [entry])],
                       "verbosity": 2, "uptodate": [False], "doc": f"skipped: {entry.skip}"}
                continue
            for precision in entry.precisions:
                key = self.ir_key(entry, precision)
                yield {"name": f"{entry.name}-{precision}",
                       "actions": [(actions.convert, [self.cache, entry, precision, key,
                                                      self.prepare_key(entry), self.output_dir(entry, precision)])],
                       "task_dep": [f"prepare:{entry.name}"],
                       "targets": self.ir_files(entry, precision),
                       "uptodate": [self.keys.check(f"convert:{entry.name}-{precision}", key)],
                       "clean": [(actions.clean_outputs, [self.ir_files(entry, precision)])],
                       "meta": WORKER}
            last = "verify" if entry.verify else "convert"
            yield {"name": entry.name, "actions": None,
                   "task_dep": [f"{last}:{entry.name}-{p}" for p in entry.precisions],
                   "doc": f"convert and verify {entry.name} in {', '.join(entry.precisions)}"}

    def verify(self):
        for entry in self.built:
            if not entry.verify:
                continue
            inputs = [str(p) for p in entry.verify_input_files()] if entry.verify_inputs else []
            for precision in entry.precisions:
                key = self.verify_key(entry, precision)
                report = f"{self.output_dir(entry, precision)}/verify.json"
                keys = actions.VerifyKeys(key, self.ir_key(entry, precision), self.prepare_key(entry))
                yield {"name": f"{entry.name}-{precision}",
                       "actions": [(actions.verify, [self.cache, entry, precision, keys,
                                                     Path(self.ir_files(entry, precision)[0])])],
                       "file_dep": self.ir_files(entry, precision) + inputs,
                       "task_dep": [f"unpack:{entry.name}"],
                       "targets": [report],
                       "uptodate": [self.keys.check(f"verify:{entry.name}-{precision}", key)],
                       "clean": [(actions.clean_outputs, [[report]])], "meta": WORKER}


def select_shard(models: tuple[ModelEntry, ...], shard: str | None, where: Path) -> tuple[ModelEntry, ...]:
    """The models of shard "K/N": those whose name hashes to K-1 modulo N. A model's shard
    depends on its name alone, so adding models to the manifest never moves the others."""
    if not shard:
        return models
    import hashlib
    import re

    from .errors import ManifestError

    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ManifestError(f"shard={shard!r} (building {where}): expected K/N with "
                            f"1 <= K <= N, like shard=2/3")
    index, count = int(match[1]) - 1, int(match[2])
    return tuple(entry for entry in models
                 if int.from_bytes(hashlib.sha256(entry.name.encode()).digest()[:8], "big") % count == index)
