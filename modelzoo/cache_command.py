"""`doit cache push|pull|gc`: move a zoo's cache entries to and from the remote cache.

    doit cache push                   # upload every local entry the remote lacks
    doit cache pull                   # fetch every entry this manifest's models need
    doit cache gc --keep-days 30      # drop entries older than 30 days no model needs

A doit command plugin (pyproject.toml, `[tool.doit.plugins.command]`); `manifest=PATH` chooses
the manifest as for `doit convert`, and the remote is its `[defaults] remote_cache` or the
`MODELZOO_REMOTE_CACHE` variable.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from doit import get_var
from doit.cmd_base import Command

log = logging.getLogger(__name__)

ACTIONS = ("push", "pull", "gc")


class CacheCommand(Command):
    name = "cache"
    doc_purpose = "push to, pull from, or collect the remote cache"
    doc_usage = "push | pull | gc [--keep-days N]   [manifest=PATH]"
    doc_description = __doc__
    cmd_options = ({"name": "keep_days", "long": "keep-days", "type": float, "default": 30,
                    "help": "gc: keep entries younger than this many days, and every entry the "
                            "manifest's models need [default: %(default)s]"},)

    def parse_execute(self, in_args):
        """`doit cache gc --keep-days N`: doit's parser stops at the first word that is not an
        option, so the action word goes last before parsing."""
        if in_args and in_args[0] in ACTIONS:
            in_args = [*in_args[1:], in_args[0]]
        return super().parse_execute(in_args)

    def execute(self, params, args):
        from .errors import PipelineError
        from .tasks import ZooTasks

        if len(args) != 1 or args[0] not in ACTIONS:
            print(f"usage: doit cache {self.doc_usage}", file=sys.stderr)
            return 3
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        try:
            zoo = ZooTasks(get_var("manifest", "models.toml") or "models.toml", Path.cwd())
        except PipelineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
        if zoo.cache.remote is None:
            print(f"error: {zoo.manifest.path} names no remote cache: set remote_cache in its "
                  "[defaults] (s3://bucket/prefix, file:///shared/folder) or the "
                  "MODELZOO_REMOTE_CACHE environment variable", file=sys.stderr)
            return 3
        started = time.perf_counter()
        counts = {"push": push, "pull": pull, "gc": collect}[args[0]](zoo, params)
        remote = zoo.cache.remote
        if not remote.available:
            print(f"error: remote cache {remote.url}: {remote.failure}", file=sys.stderr)
            return 1
        print(f"{args[0]}: {counts} ({time.perf_counter() - started:.1f} s, {remote.url})")
        return 0


def push(zoo, params) -> str:
    """Upload every complete local entry whose record the remote does not have."""
    cache, remote = zoo.cache, zoo.cache.remote
    known = set(remote.records()) if remote.available else set()
    uploaded = present = 0
    for kind, key, folder in cache.entries():
        if (kind, key) in known:
            present += 1
        elif remote.available and cache.push_entry(kind, key, folder):
            uploaded += 1
    return f"{uploaded} entries uploaded, {present} already there"


def pull(zoo, params) -> str:
    """Fetch every entry the manifest's models need: downloads, source trees, prepared models,
    IR and the verdicts on that IR."""
    cache = zoo.cache
    fetched = missing = 0
    for entry in zoo.built:
        for kind, key in zoo.cache_entries(entry):
            had = _present(cache, kind, key)
            found = cache.pull_entry(kind, key)
            fetched += bool(found) and not had
            missing += not found
            if kind == "ir" and found:
                precision = _precision_of(zoo, entry, key)
                record = _record(found)
                if entry.verify and record:
                    verdict = zoo.verdict_entry(entry, precision, record)
                    had = _present(cache, *verdict)
                    found = cache.pull_entry(*verdict)
                    fetched += bool(found) and not had
                    missing += not found
    return f"{fetched} entries fetched, {missing} not on the remote"


def collect(zoo, params) -> str:
    """Delete remote entries older than --keep-days that no model of the manifest needs, then
    the blobs nothing names any more."""
    live = set()
    for entry in zoo.manifest.models:
        if entry.skip or entry.error:
            continue
        live.update(zoo.cache_entries(entry))
        for precision in entry.precisions:
            record = zoo.cache.remote.read_record("ir", zoo.ir_key(entry, precision))
            if record and entry.verify:
                live.add(zoo.verdict_entry(entry, precision, record))
    entries, blobs = zoo.cache.remote.collect(live, params["keep_days"])
    return f"{entries} entries and {blobs} files deleted, {len(live)} entries kept as needed"


def _present(cache, kind: str, key: str) -> bool:
    if kind.startswith("downloads/"):
        return cache.download_dir((kind.split("/", 1)[1], key)).is_dir()
    return cache.tree_dir(kind, key).is_dir()


def _precision_of(zoo, entry, ir_key: str) -> str:
    return next(p for p in entry.precisions if zoo.ir_key(entry, p) == ir_key)


def _record(folder: Path) -> dict | None:
    from .integrity import read_record

    return read_record(folder)
