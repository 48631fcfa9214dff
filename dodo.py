"""doit tasks that build every model of a manifest into verified OpenVINO IR.

    doit convert                      # everything in models.toml
    doit convert:NAME                 # one model, every precision, verified
    doit convert manifest=PATH        # another manifest
    doit -n 4 convert                 # four tasks at a time
    doit convert shard=2/3            # the 2nd of 3 disjoint parts (a CI matrix job)
    doit convert dask=local:4         # the heavy tasks on a Dask cluster (or dask=tcp://host:8786)
    doit cache push|pull|gc           # the remote cache ([defaults] remote_cache, MODELZOO_REMOTE_CACHE)
    doit report                       # report/index.html, zoo.json and junit.xml of the last builds
"""
import logging
import sys

from doit import get_initial_workdir, get_var

from modelzoo.errors import PipelineError
from modelzoo.reporter import reporter_for
from modelzoo.tasks import ZooTasks

# One line per downloaded file (tqdm draws a bar instead when stderr is a terminal).
logging.basicConfig(level=logging.WARNING, format="%(message)s")
logging.getLogger("modelzoo").setLevel(logging.INFO)

try:
    # doit runs in dodo.py's folder; an Open Model Zoo folder given as the manifest keeps the
    # build's files in omz/ of the folder the command was run from.
    ZOO = ZooTasks(get_var("manifest", "models.toml") or "models.toml", get_initial_workdir(),
                   shard=get_var("shard"))
    # One doit run per manifest at a time: a second one waits here, then finds the work done.
    # Held until the process exits (also on kill -9: the OS drops the lock).
    ZOO.hold_run_lock()
except PipelineError as exc:
    sys.exit(f"error: {exc}")

# `continue`: one failing model does not stop the others. The task state lives beside the
# manifest, so two manifests never share (and invalidate) each other's records. sqlite3, not
# the default dbm (dbm.dumb here), because its commits survive a kill -9 mid-write. The
# reporter draws live progress on a terminal and ends every build with a summary table.
DOIT_CONFIG = {"default_tasks": ["convert"], "continue": True, "action_string_formatting": "new",
               "dep_file": str(ZOO.manifest.state_dir / ".doit.db"), "backend": "sqlite3",
               "reporter": reporter_for(ZOO)}


def task_download():
    """Fetch each model's archive into cache/, checked against its sha256."""
    yield from ZOO.download()


def task_unpack():
    """Unpack each archive safely into cache/ (no absolute paths, no .., no links out)."""
    yield from ZOO.unpack()


def task_prepare():
    """Locate each model in its archive; freeze SavedModels and checkpoints."""
    yield from ZOO.prepare()


def task_convert():
    """Convert each model to IR per precision: ir/NAME/PRECISION/NAME.xml and .bin."""
    yield from ZOO.convert()


def task_verify():
    """Check each IR's structure and compare it numerically with its source model."""
    yield from ZOO.verify()


def task_report():
    """Write report/ beside the manifest: index.html (table, plots, a page per model),
    zoo.json and junit.xml, from what the last builds recorded."""
    # The report's imports (matplotlib, lxml) happen in the action, never when tasks load.
    return {"actions": [(write_report, [str(ZOO.manifest.path), get_initial_workdir()])], "verbosity": 2,
            "uptodate": [False]}


def write_report(manifest: str, workdir: str) -> None:
    from modelzoo.report import write_report as write

    print(f"report written: {write(manifest, workdir)}")


def task_bench():
    """Benchmark against ovc and curl; prints the table, writes bench/results.{json,md}."""
    # A shell command: the suite's heavy imports happen in its own process, never here.
    return {"actions": [f"{sys.executable} -m bench"], "verbosity": 2, "uptodate": [False]}
