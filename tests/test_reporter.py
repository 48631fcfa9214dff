"""The reporter: task outcomes become rows; a live line on a terminal, doit's lines in a log."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import types
from pathlib import Path

import pytest
from doit.exceptions import TaskError, TaskFailed, UnmetDependency

from doit_runner import PROJECT
from modelzoo.manifest import load_manifest
from modelzoo.outcomes import RunOutcomes, one_line
from report_zoo import built_zoo

SHA = "0" * 64


def outcomes_of(tmp_path: Path, selected: list[str]) -> RunOutcomes:
    manifest = tmp_path / "models.toml"
    manifest.write_text('[defaults]\nprecisions = ["FP32", "FP16"]\n'
                        f'[a]\nurl = "a.onnx"\nsha256 = "{SHA}"\n'
                        f'[b]\nurl = "b.onnx"\nsha256 = "{SHA}"\nverify = false\n'
                        f'[c]\nurl = "c.onnx"\nsha256 = "{SHA}"\nskip = "later"\n')
    loaded = load_manifest(manifest)
    return RunOutcomes(types.SimpleNamespace(manifest=loaded, models=loaded.models), selected)


def test_rows_follow_the_tasks_the_run_selected(tmp_path):
    assert len(outcomes_of(tmp_path, ["convert"]).rows) == 6
    assert outcomes_of(tmp_path, ["convert:a"]).rows == [("a", "FP32"), ("a", "FP16")]
    assert outcomes_of(tmp_path, ["convert:a-FP16"]).rows == [("a", "FP16")]
    assert not outcomes_of(tmp_path, ["report"]).summarized


def test_an_upstream_failure_becomes_each_rows_reason(tmp_path):
    outcomes = outcomes_of(tmp_path, ["convert"])
    outcomes.failed("download:a", "a: checksum mismatch", unmet=False)
    outcomes.failed("unpack:a", "download:a", unmet=True)
    for precision in ("FP32", "FP16"):
        outcomes.failed(f"convert:a-{precision}", f"unpack:a", unmet=True)
        outcomes.failed(f"verify:a-{precision}", f"convert:a-{precision}", unmet=True)
    assert {k: (o.status, o.reason) for k, o in outcomes.outcomes.items()} == {
        ("a", "FP32"): ("failed conversion", "a: checksum mismatch"),
        ("a", "FP16"): ("failed conversion", "a: checksum mismatch")}
    outcomes.succeeded("convert:b-FP32", executed=False)  # not verified: converting is the end
    outcomes.succeeded("convert:b-FP16", executed=True)
    assert outcomes.outcomes[("b", "FP16")].status == "converted"
    assert (outcomes.to_build, outcomes.done, outcomes.failures) == (4, 4, 2)


def test_verification_failures_are_told_apart(tmp_path):
    outcomes = outcomes_of(tmp_path, ["convert"])
    outcomes.failed("verify:a-FP32", "m, FP32: could not verify: no runtime", unmet=False)
    outcomes.failed("verify:a-FP16", "m, FP16: output 'y': max abs error 3", unmet=False)
    assert outcomes.outcomes[("a", "FP32")].status == "could not verify"
    assert outcomes.outcomes[("a", "FP16")].status == "failed verification"


def test_a_failure_reads_as_one_line():
    assert one_line(TaskFailed("m: failed\n  output 'y': error 3")) == "m: failed; output 'y': error 3"
    try:
        raise ValueError("a bug")
    except ValueError as exc:
        assert one_line(TaskError("PythonAction Error", exc)) == "ValueError: a bug"
    assert one_line(UnmetDependency("download:a")) == "download:a"


def run_on_terminal(manifest: Path) -> str:
    """`doit convert` with stdout on a pseudo-terminal (80 columns): what a person sees."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"),
                             "convert", f"manifest={manifest}"], cwd=PROJECT, stdout=follower,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_a_terminal_gets_one_live_line_and_a_log_gets_doits_lines(local_zoo, tmp_path_factory):
    manifest, built = built_zoo("clean", local_zoo, tmp_path_factory.getbasetemp() / "report-zoos")
    assert built.code == 0, built.out + built.err
    assert "-- verify:tiny-cnn-onnx-FP32" in built.out or ".  verify:tiny-cnn-onnx-FP32" in built.out
    seen = run_on_terminal(manifest)
    frames = seen.replace("\r\n", "\n").split("\r")
    assert any("models 2/2" in frame and "0 failed" in frame for frame in frames), seen
    assert "elapsed" in seen and "left" in seen
    assert "-- convert:" not in seen and ".  convert:" not in seen
    assert "Summary of " in seen and "2 results: 2 verified" in seen
