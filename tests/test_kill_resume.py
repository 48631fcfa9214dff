"""`kill -9` during a cold build, then a rerun: the IR is byte-identical to an uninterrupted
build's and the cache holds no damaged entry.

Each kill point is a task doit announces (`.  convert:...`) plus a delay, so the kill lands in
that stage; the delays were chosen from a measured run (verifying spends seconds importing
TensorFlow, unpacking and preparing a few milliseconds). For many more kill points, at random
times spread over a whole measured build:

    KILL_POINTS=50 .venv/bin/pytest tests/test_kill_resume.py
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from doit_runner import PROJECT, run_doit
from zoo_fixtures import cache_problems, fresh_zoo, ir_outputs, leftovers, small_zoo_manifest

pytestmark = pytest.mark.slow

# (the task whose start anchors the kill, seconds after it)
STAGE_KILLS = [
    ("download:small-cnn-savedmodel", 0.0),
    ("unpack:small-cnn-savedmodel", 0.0),
    ("prepare:small-cnn-savedmodel", 0.0),  # recording where the SavedModel lies: milliseconds
    ("convert:small-cnn-savedmodel-FP32", 0.05),
    ("verify:small-cnn-savedmodel-FP32", 0.3),  # loading the SavedModel to run it
]


@pytest.fixture(scope="module")
def reference(local_zoo, tmp_path_factory) -> tuple[Path, dict[str, bytes], float]:
    """An uninterrupted cold build: its manifest, its IR bytes and how long it took."""
    manifest = small_zoo_manifest(local_zoo, tmp_path_factory.mktemp("kill") / "reference")
    started = time.monotonic()
    run = run_doit("convert", manifest=manifest)
    assert run.code == 0, run.out + run.err
    return manifest, ir_outputs(manifest), time.monotonic() - started


def kill_points(duration: float) -> list[tuple[str | None, float]]:
    count = int(os.environ.get("KILL_POINTS", "0") or 0)
    if count <= 0:
        return list(STAGE_KILLS)
    rng = random.Random(count)
    return [(None, rng.uniform(0.05, duration)) for _ in range(count)]


def build_and_kill(manifest: Path, anchor: str | None, delay: float) -> bool:
    """Start `doit convert`, SIGKILL its process group `delay` s after `anchor` started
    (after the start without an anchor); True if the kill came before the build finished."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"), "convert",
           f"manifest={manifest}"]
    proc = subprocess.Popen(cmd, cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        if anchor is not None:
            for line in proc.stdout:
                if line.strip() == f".  {anchor}":
                    break
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=120)
        proc.stdout.close()
    return not finished


def test_a_killed_build_resumes_to_identical_ir_and_a_sound_cache(reference, tmp_path):
    manifest, expected, duration = reference
    survived = []
    for number, (anchor, delay) in enumerate(kill_points(duration)):
        copy = fresh_zoo(manifest, tmp_path / f"run{number}")
        killed = build_and_kill(copy, anchor, delay)
        assert killed, f"the build finished before the kill at {anchor} + {delay} s"
        rerun = run_doit("convert", manifest=copy)
        where = f"killed at {anchor or 'start'} + {delay:.2f} s"
        assert rerun.code == 0, f"{where}:\n{rerun.out}\n{rerun.err}"
        assert ir_outputs(copy) == expected, where
        assert cache_problems(copy.parent / "cache") == [], where
        assert leftovers(copy.parent / "ir") == [], where
        survived.append(where)
    print(f"{len(survived)} kill points survived")
