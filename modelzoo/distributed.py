"""doit's `run` command, able to run the heavy tasks on a Dask cluster (`dask=...`).

    doit convert dask=local:4                  # a LocalCluster of 4 worker processes, started
                                               # and closed by this command
    doit convert dask=tcp://scheduler:8786     # a running cluster (needs a remote cache)

doit still decides what is up to date and in what order tasks run: the command runs doit's
thread runner with one thread per Dask worker thread (or `-n`). A task marked
`"meta": {"worker": True}` (download, unpack, prepare, convert, verify) has its Python actions
submitted to the cluster as one Dask task (a key naming the doit task, `pure=False`), and the
thread waits for it. On the worker, every `modelzoo.cache.Cache` argument is relocated to the
worker's cache folder:

- `MODELZOO_WORKER_CACHE` if set in the worker's environment;
- else, for `local:N`, this machine's own cache folder (same machine: the cache's file locks
  make sharing it safe, and nothing is copied);
- else a folder under the worker's temporary directory.

A worker whose cache is not this machine's reads and writes through the remote cache
(`remote_cache` in the manifest or `MODELZOO_REMOTE_CACHE`), which is why `dask=tcp://...`
without one fails at once. If the worker's action fails, the doit task fails with its message
(it is not run again here). If it succeeds, the task's actions then run here as well: the
actions are cache-first, so this only restores the entry (from the shared folder or the remote)
and copies the outputs out, which keeps the output folder and doit's state right.

A worker that dies mid-task (killed, out of memory) is replaced by its nanny, and the scheduler
re-runs the tasks it held on another worker (up to Dask's
`distributed.scheduler.allowed-failures` times; then the task fails naming the workers' deaths).
The cache makes a half-done entry invisible, so the re-run builds the same bytes as a local
build.

Without `dask=`, the command is doit's own `run`. Dask and distributed are imported only when
there is work for a worker: `doit list` and a no-op build import neither (distributed imports
numpy). Workers of a remote cluster need this project installed (same version) to unpickle the
actions.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from doit import get_var
from doit.action import PythonAction
from doit.cmd_run import Run as _DoitRun
from doit.control import TaskControl
from doit.exceptions import BaseFail, InvalidCommand, TaskError, TaskFailed
from doit.runner import MThreadRunner
from doit.task import Stream

log = logging.getLogger(__name__)
DASK_VAR = "dask"
WORKER_CACHE_ENV = "MODELZOO_WORKER_CACHE"
REMOTE_CACHE_ENV = "MODELZOO_REMOTE_CACHE"
WORKER_TEMP_FOLDER = "modelzoo-worker-cache"
USAGE = ("give dask=local:N (a cluster of N worker processes on this machine) or the address of "
         "a running scheduler, such as dask=tcp://scheduler:8786")


# -- the cluster asked for --------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterSpec:
    """What `dask=` names: `local:N` (a LocalCluster started here) or a scheduler's address."""

    text: str
    local_workers: int | None = None
    address: str | None = None

    @classmethod
    def parse(cls, text: str) -> "ClusterSpec":
        text = text.strip()
        if text.startswith("local:"):
            count = text[len("local:"):]
            if not count.isdigit() or int(count) < 1:
                raise InvalidCommand(f"dask={text}: the number of workers must be a whole number "
                                     f"of at least 1; {USAGE}")
            return cls(text, local_workers=int(count))
        if "://" in text and text.split("://", 1)[1]:
            return cls(text, address=text)
        raise InvalidCommand(f"dask={text}: not a cluster; {USAGE}")

    @property
    def is_local(self) -> bool:
        return self.local_workers is not None

    @property
    def shares_cache(self) -> bool:
        """Whether workers use this machine's cache folder itself when nothing else is set:
        only a local cluster's workers run on this machine."""
        return self.is_local


# -- on the worker ----------------------------------------------------------------------------
def worker_cache_root(doit_root: Path, shares_cache: bool) -> Path:
    """The cache folder a worker uses (see the module's docstring)."""
    configured = os.environ.get(WORKER_CACHE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    if shares_cache:
        return Path(doit_root)
    return Path(tempfile.gettempdir()) / WORKER_TEMP_FOLDER


def _on_worker(argument, shares_cache: bool):
    """A Cache argument relocated to this worker's cache folder; any other argument as is."""
    from .cache import Cache

    if not isinstance(argument, Cache):
        return argument
    root = worker_cache_root(argument.root, shares_cache)
    return argument if root == argument.root else argument.relocated(root)


def run_actions_on_worker(calls: list[tuple], shares_cache: bool) -> BaseFail | None:
    """What a Dask worker runs for one doit task: each `(function, args, kwargs)` in order,
    with Cache arguments relocated; the first failure (a doit TaskFailed/TaskError, which
    pickles) is returned, None when all succeeded. An exception propagates to the caller
    through Dask, with its traceback."""
    for function, args, kwargs in calls:
        result = function(*[_on_worker(a, shares_cache) for a in args], **kwargs)
        if isinstance(result, BaseFail):
            return result
    return None


# -- on the machine running doit ---------------------------------------------------------------
def runs_on_worker(task) -> bool:
    """A task marked `"meta": {"worker": True}` whose actions are all Python functions."""
    meta = task.meta or {}
    return bool(meta.get("worker")) and bool(task.actions) and \
        all(isinstance(action, PythonAction) for action in task.actions)


def worker_calls(task) -> list[tuple]:
    return [(action.py_callable, list(action.args), dict(action.kwargs)) for action in task.actions]


def caches_of(tasks) -> list:
    """The distinct Cache objects given to the worker tasks' actions."""
    from .cache import Cache

    found = {}
    for task in tasks:
        if not runs_on_worker(task):
            continue
        for action in task.actions:
            for argument in action.args:
                if isinstance(argument, Cache):
                    found.setdefault(argument.root, argument)
    return list(found.values())


def check_caches_reachable(spec: ClusterSpec, caches: list) -> None:
    """Workers that do not share this machine's cache folder must share a remote cache: fail
    at once, before anything runs, when there is none."""
    separate = os.environ.get(WORKER_CACHE_ENV, "").strip()
    if spec.shares_cache and not separate:
        return
    for cache in caches:
        if getattr(cache, "remote", None) is not None:
            continue
        why = ("the workers of a Dask cluster elsewhere cannot write this machine's cache"
               if not spec.shares_cache else
               f"{WORKER_CACHE_ENV} gives the workers their own cache folder")
        raise InvalidCommand(
            f"dask={spec.text}: {why} ({cache.root}), so what they build would never reach it. "
            f"Configure a remote cache both can reach: remote_cache = \"s3://bucket/prefix\" (or "
            f"any fsspec URL, such as file:///shared/folder) in the manifest's [defaults], or the "
            f"environment variable {REMOTE_CACHE_ENV}.")


class DaskExecutor:
    """The Dask client of one doit run. For `local:N` the cluster is started on the first task
    that has work for a worker (a no-op build never starts it); a scheduler's address is
    connected to at once, to count its workers and to fail early when it cannot be reached."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self._client = None
        self._cluster = None
        self._lock = threading.Lock()

    def threads(self) -> int:
        """How many tasks the cluster runs at once: N for `local:N`, else its worker threads
        (at least 1: tasks wait in the scheduler for workers that join later)."""
        if self.spec.is_local:
            return self.spec.local_workers
        return max(1, sum(self.client().nthreads().values()))

    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        return self._start_local_cluster() if self.spec.is_local else self._reach_scheduler()

    def _start_local_cluster(self):
        from distributed import Client, LocalCluster

        # Dask logs every worker's start and stop at INFO; keep its warnings (a worker that died)
        # and quiet the rest. No dashboard; the scheduler's own HTTP endpoint (health checks)
        # takes a free loopback port instead of 8787 on every interface.
        logging.getLogger("distributed").setLevel(logging.WARNING)
        started = time.perf_counter()
        self._cluster = LocalCluster(n_workers=self.spec.local_workers, threads_per_worker=1,
                                     processes=True, host="127.0.0.1", dashboard_address=None,
                                     scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        client = Client(self._cluster, set_as_default=False)
        log.info("dask: started a LocalCluster of %d workers in %.2f s",
                 self.spec.local_workers, time.perf_counter() - started)
        return client

    def _reach_scheduler(self):
        import dask
        from distributed import Client

        timeout = dask.config.get("distributed.comm.timeouts.connect")
        try:
            return Client(self.spec.address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise InvalidCommand(
                f"dask={self.spec.text}: cannot reach the Dask scheduler at {self.spec.address} "
                f"within {timeout} ({exc}). Start it (`dask scheduler`, with workers from "
                f"`dask worker {self.spec.address}`), or check the address and the network; "
                f"the connect timeout is Dask's distributed.comm.timeouts.connect.") from None

    def run(self, task) -> BaseFail | None:
        """Run the task's actions on a worker and wait: None on success, else the failure."""
        from distributed import KilledWorker

        key = f"{task.name}-{uuid.uuid4().hex[:12]}"
        try:
            future = self.client().submit(run_actions_on_worker, worker_calls(task),
                                          self.spec.shares_cache, key=key, pure=False)
            return future.result()
        except KilledWorker:
            import dask

            allowed = dask.config.get("distributed.scheduler.allowed-failures")
            return TaskFailed(f"{task.name}: the Dask workers running it died {allowed + 1} "
                              f"times (killed or out of memory), so Dask gave up on it; see the "
                              f"workers' logs on {self.spec.text}")
        except InvalidCommand as exc:
            return TaskError(str(exc))
        except Exception as exc:  # a bug in an action, or the cluster going away
            return TaskError(f"{task.name}: failed on the Dask cluster {self.spec.text}: "
                             f"{type(exc).__name__}: {exc}", exc)

    def close(self) -> None:
        with self._lock:
            started, local = time.perf_counter(), self._cluster is not None
            for part in (self._client, self._cluster):
                if part is not None:
                    part.close()
            self._client = self._cluster = None
        if local:
            log.info("dask: closed the LocalCluster in %.2f s", time.perf_counter() - started)


class DaskRunner(MThreadRunner):
    """doit's thread runner, with worker tasks run on Dask first (see the module docstring)."""

    def __init__(self, dep_manager, reporter, continue_=False, always_execute=False,
                 stream=None, num_process=1, executor: DaskExecutor | None = None):
        super().__init__(dep_manager, reporter, continue_=continue_,
                         always_execute=always_execute, stream=stream, num_process=num_process)
        self.executor = executor

    def execute_task(self, task):
        if self.executor is None or not runs_on_worker(task):
            return super().execute_task(task)
        if task.teardown:
            self.teardown_list.append(task)
        self.reporter.execute_task(task)
        failure = self.executor.run(task)
        if failure is not None:
            return failure
        return task.execute(self.stream)  # the restore: cache-first, so no work is redone


class Run(_DoitRun):
    """doit's `run`, plus `dask=local:N` or `dask=tcp://host:port` (see the module docstring)."""

    doc_description = ("With dask=local:N or dask=tcp://HOST:PORT, the heavy tasks run on a Dask "
                       "cluster (see modelzoo/distributed.py).")

    def _execute(self, outfile, verbosity=None, always=False, continue_=False,
                 reporter="console", num_process=0, par_type="process", single=False,
                 auto_delayed_regex=False, force_verbosity=False, failure_verbosity=0,
                 pdb=False):
        cluster = get_var(DASK_VAR)
        if not cluster:
            return super()._execute(outfile, verbosity, always, continue_, reporter, num_process,
                                    par_type, single, auto_delayed_regex, force_verbosity,
                                    failure_verbosity, pdb)
        spec = ClusterSpec.parse(cluster)
        if single:
            raise InvalidCommand(f"dask={spec.text}: --single is not supported with a Dask "
                                 f"cluster; run it without dask=")
        check_caches_reachable(spec, caches_of(self.task_list))
        PythonAction.pm_pdb = pdb
        self.control = TaskControl(self.task_list, auto_delayed_regex=auto_delayed_regex)
        self.control.process(self.sel_tasks)
        self.outstream = open(outfile, "w", encoding="utf-8") if isinstance(outfile, str) \
            else outfile
        executor = DaskExecutor(spec)
        try:
            runner = DaskRunner(self.dep_manager, self._reporter(reporter, failure_verbosity),
                                continue_, always, Stream(verbosity, force_verbosity),
                                num_process or executor.threads(), executor=executor)
            return runner.run_all(self.control.task_dispatcher())
        finally:
            executor.close()
            if isinstance(outfile, str):
                self.outstream.close()

    def _reporter(self, reporter, failure_verbosity: int):
        """The reporter object: named on the command line, a class from DOIT_CONFIG, or an
        instance (as doit's own run accepts them)."""
        chosen = self.reporters[reporter] if isinstance(reporter, str) else reporter
        if isinstance(chosen, type):
            return chosen(self.outstream, {"failure_verbosity": failure_verbosity})
        return chosen
