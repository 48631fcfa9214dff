"""`doit convert dask=...`: the heavy tasks on a real Dask cluster (modelzoo.distributed).

Every build runs doit in a child process as a user would (`doit_runner.run_doit`); the clusters
are real: `dask=local:2` makes doit start a LocalCluster of two worker processes, and the tcp://
case starts a scheduler and two nanny-run workers in this process. A build on the cluster must
give the bytes a local build gives, while the doit process itself imports none of the
converter's or verifier's heavy modules (the work ran on the workers; it only restored).
"""
from __future__ import annotations

import contextlib
import json
import socket
import textwrap
from pathlib import Path

import pytest

from doit_runner import run_doit
from zoo_fixtures import cache_problems, ir_outputs, small_zoo_manifest

pytestmark = pytest.mark.slow

# What the doit process imports when it converts or verifies itself.
WORK_MODULES = {"onnx", "tensorflow", "openvino", "onnxruntime", "lxml"}
TIMEOUT = 240  # seconds for one doit run: a hung cluster fails the test instead of stalling it


@pytest.fixture(autouse=True)
def no_cache_settings_from_outside(monkeypatch):
    """The builds here choose their caches themselves."""
    monkeypatch.delenv("MODELZOO_REMOTE_CACHE", raising=False)
    monkeypatch.delenv("MODELZOO_WORKER_CACHE", raising=False)


def onnx_zoo_manifest(local_zoo: Path, folder: Path, extra_defaults: str = "",
                      model_flags: str = "") -> Path:
    """The small zoo without its SavedModel: one ONNX model (a build takes about a second)."""
    manifest = small_zoo_manifest(local_zoo, folder, extra_defaults)
    blocks = manifest.read_text().split("\n\n")
    kept = [block for block in blocks if not block.startswith('["small-cnn-savedmodel"]')]
    text = "\n\n".join(kept).rstrip("\n")
    manifest.write_text(f"{text}\n{model_flags}\n" if model_flags else f"{text}\n")
    return manifest


def verify_reports(manifest: Path) -> dict[str, dict]:
    return {str(p.relative_to(manifest.parent / "ir")): json.loads(p.read_text())
            for p in sorted((manifest.parent / "ir").rglob("verify.json"))}


def entries(cache: Path, kind: str) -> list[Path]:
    return sorted(p for p in (cache / kind).glob("*/*") if p.is_dir()) if (cache / kind).is_dir() else []


def build(manifest: Path, *args: str):
    """`doit ARGS convert`, which must succeed."""
    run = run_doit(*args, "convert", manifest=manifest, timeout=TIMEOUT)
    assert run.code == 0, run.out + run.err
    return run


@pytest.fixture(scope="module")
def local_build(local_zoo, tmp_path_factory) -> Path:
    """The small zoo (an ONNX model and a SavedModel) built the usual way, on this machine,
    in the doit process itself: the control for the dask builds' WORK_MODULES checks."""
    manifest = small_zoo_manifest(local_zoo, tmp_path_factory.mktemp("dask") / "local")
    run = build(manifest)
    assert WORK_MODULES <= set(run.heavy), run.heavy
    return manifest


def test_a_dask_build_equals_a_local_build_and_a_second_run_does_nothing(local_build, local_zoo,
                                                                         tmp_path):
    manifest = small_zoo_manifest(local_zoo, tmp_path / "zoo")
    run = build(manifest, "dask=local:2")

    assert run.executed("convert:") == {"convert:tiny-cnn-onnx-FP32",
                                        "convert:small-cnn-savedmodel-FP32"}
    assert len(run.executed("verify:")) == 2
    # the workers converted and verified; the doit process only restored from the cache
    assert not WORK_MODULES & set(run.heavy), run.heavy
    assert ir_outputs(manifest) == ir_outputs(local_build)
    reports = verify_reports(manifest)
    assert len(reports) == 2 and all(report["passed"] for report in reports.values())
    assert reports.keys() == verify_reports(local_build).keys()
    assert cache_problems(manifest.parent / "cache") == []

    again = build(manifest, "dask=local:2")
    assert again.executed() == set()
    assert again.heavy == []  # no cluster started: nothing had to run


def kill_once_extension(folder: Path, marker: Path) -> Path:
    """An extension whose pass SIGKILLs the process running it, the first time only (the
    marker file, holding that process's id, says it already did); it changes nothing."""
    folder.mkdir(parents=True)
    (folder / "kill_once.py").write_text(textwrap.dedent(f'''
        import os
        import signal
        from pathlib import Path

        AFTER = "constant_folding"
        MARKER = Path({str(marker)!r})

        def run(graph, options):
            if not MARKER.exists():
                MARKER.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            return 0
        '''))
    return folder


def test_a_worker_killed_mid_conversion_has_its_task_run_again_elsewhere(local_zoo, tmp_path):
    marker = tmp_path / "killed.pid"
    extension = kill_once_extension(tmp_path / "ext", marker)
    flags = f'extensions = "{extension}"'
    on_dask = onnx_zoo_manifest(local_zoo, tmp_path / "dask", model_flags=flags)
    run = build(on_dask, "dask=local:2")

    assert marker.is_file(), "the extension's pass never ran"
    killed = marker.read_text()
    # the process that died was not doit's (which went on); a nanny replaced its Dask worker
    assert "Restarting worker" in run.err, run.err[-3000:]
    assert run.executed("convert:") == {"convert:tiny-cnn-onnx-FP32"}
    assert verify_reports(on_dask)["tiny-cnn-onnx/FP32/verify.json"]["passed"]
    assert cache_problems(on_dask.parent / "cache") == []

    local = onnx_zoo_manifest(local_zoo, tmp_path / "local", model_flags=flags)
    build(local)  # the marker is there: the same pass runs and kills nothing
    assert ir_outputs(on_dask) == ir_outputs(local)
    assert marker.read_text() == killed


def test_workers_with_their_own_cache_share_results_through_the_remote_cache(
        local_build, local_zoo, tmp_path, monkeypatch):
    remote, worker_cache = tmp_path / "remote", tmp_path / "worker-cache"
    manifest = onnx_zoo_manifest(local_zoo, tmp_path / "zoo",
                                 extra_defaults=f'remote_cache = "{remote.as_uri()}"')
    monkeypatch.setenv("MODELZOO_WORKER_CACHE", str(worker_cache))  # inherited by the workers
    run = build(manifest, "dask=local:2")

    assert not WORK_MODULES & set(run.heavy), run.heavy
    assert ir_outputs(manifest) == {name: data for name, data in ir_outputs(local_build).items()
                                    if name.startswith("tiny-cnn-onnx/")}
    assert verify_reports(manifest)["tiny-cnn-onnx/FP32/verify.json"]["passed"]
    doit_cache = manifest.parent / "cache"
    for kind in ("ir", "verify", "prepared", "unpacked"):
        built = [p.relative_to(worker_cache) for p in entries(worker_cache, kind)]
        restored = [p.relative_to(doit_cache) for p in entries(doit_cache, kind)]
        assert built and restored == built, kind  # built on the workers, restored here
        assert [p.relative_to(remote) for p in entries(remote, kind)] == built, kind
    assert cache_problems(worker_cache) == []
    assert cache_problems(doit_cache) == []


@contextlib.contextmanager
def scheduler_with_workers(worker_caches: list[Path]):
    """A scheduler on loopback and one nanny-run worker process per folder, each with that
    folder as its MODELZOO_WORKER_CACHE: machines that share only the remote cache."""
    from distributed import Nanny, Scheduler, SpecCluster

    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard": False,
                                               "dashboard_address": "127.0.0.1:0"}}
    workers = {f"worker-{index}": {"cls": Nanny, "options": {
        "host": "127.0.0.1", "nthreads": 1, "env": {"MODELZOO_WORKER_CACHE": str(folder)}}}
        for index, folder in enumerate(worker_caches)}
    with SpecCluster(workers=workers, scheduler=scheduler) as cluster:
        yield cluster.scheduler_address


def test_a_cluster_reached_by_its_address_builds_through_the_remote_cache(local_build, local_zoo,
                                                                         tmp_path):
    remote = tmp_path / "remote"
    manifest = onnx_zoo_manifest(local_zoo, tmp_path / "zoo",
                                 extra_defaults=f'remote_cache = "{remote.as_uri()}"')
    worker_caches = [tmp_path / "machine-a", tmp_path / "machine-b"]
    with scheduler_with_workers(worker_caches) as address:
        run = build(manifest, f"dask={address}")

    assert not WORK_MODULES & set(run.heavy), run.heavy
    assert ir_outputs(manifest) == {name: data for name, data in ir_outputs(local_build).items()
                                    if name.startswith("tiny-cnn-onnx/")}
    built = {p.relative_to(folder) for folder in worker_caches for p in entries(folder, "ir")}
    assert built and {p.relative_to(manifest.parent / "cache")
                      for p in entries(manifest.parent / "cache", "ir")} == built


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_scheduler_elsewhere_without_a_remote_cache_is_refused_at_once(local_zoo, tmp_path):
    manifest = onnx_zoo_manifest(local_zoo, tmp_path / "zoo")
    address = f"tcp://127.0.0.1:{free_port()}"
    run = run_doit("convert", f"dask={address}", manifest=manifest, timeout=60)
    assert run.code == 3 and run.executed() == set()
    assert f"dask={address}" in run.err and "remote_cache" in run.err
    assert str(manifest.parent / "cache") in run.err
    assert not (manifest.parent / "ir").exists()


def test_workers_with_their_own_cache_and_no_remote_are_refused(local_zoo, tmp_path,
                                                              monkeypatch):
    manifest = onnx_zoo_manifest(local_zoo, tmp_path / "zoo")
    monkeypatch.setenv("MODELZOO_WORKER_CACHE", str(tmp_path / "worker-cache"))
    run = run_doit("convert", "dask=local:2", manifest=manifest, timeout=60)
    assert run.code == 3 and run.executed() == set()
    assert "MODELZOO_WORKER_CACHE" in run.err and "remote_cache" in run.err


def test_an_unreachable_scheduler_fails_naming_it(local_zoo, tmp_path, monkeypatch):
    manifest = onnx_zoo_manifest(local_zoo, tmp_path / "zoo",
                                 extra_defaults=f'remote_cache = "{(tmp_path / "remote").as_uri()}"')
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    run = run_doit("convert", f"dask={address}", manifest=manifest, timeout=60)
    assert run.code == 3 and run.executed() == set()
    assert f"cannot reach the Dask scheduler at {address}" in run.err, run.err[-2000:]
    assert "Traceback" not in run.err


@pytest.mark.parametrize("spec", ["local:0", "local:two", "scheduler:8786"])
def test_a_malformed_cluster_is_refused_saying_what_to_give(local_zoo, tmp_path, spec):
    manifest = onnx_zoo_manifest(local_zoo, tmp_path / "zoo")
    run = run_doit("convert", f"dask={spec}", manifest=manifest, timeout=60)
    assert run.code == 3 and run.executed() == set()
    assert f"dask={spec}" in run.err and "dask=local:N" in run.err
