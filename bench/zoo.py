"""Benchmarks 2, 3 and 6: `doit convert` on generated zoos of small, all different ONNX models.

2. No-op rebuild of a built 100-model zoo: whole-process time, and proof (the child reports
   its `sys.modules` at exit) that no numpy, onnx or TensorFlow was imported.
3. Incremental rebuild after one model's flag changed: which conversions ran, and the time.
6. Cold build of a 20-model zoo with `-n 1` and `-n 2` (fresh cache each): the speed-up.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import sys
from pathlib import Path

from .measure import PROJECT, Run, run_child
from .models import tiny_onnx_bytes
from .report import Row

HEAVY = ("numpy", "onnx", "tensorflow", "openvino", "onnxruntime", "lxml", "requests", "urllib3")
# doit in this very process, then one line naming the heavy modules it imported.
_SCRIPT = f"""
import json, sys
from doit.doit_cmd import DoitMain
code = DoitMain().run(sys.argv[1:])
print("HEAVY=" + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def write_zoo(folder: Path, count: int, seed: int = 0, flags: dict[int, str] | None = None) -> Path:
    """`count` tiny models archived as .tar.gz under `folder/archives`, and their manifest."""
    from modelzoo.localzoo import tar_gz_bytes

    archives, staging = folder / "archives", folder / "staging"
    archives.mkdir(parents=True, exist_ok=True)
    tables = ['[defaults]', 'precisions = ["FP32"]', ""]
    for index in range(count):
        name = f"tiny-{index:03d}"
        target = archives / f"{name}.tar.gz"
        if not target.exists():
            (staging / name).mkdir(parents=True, exist_ok=True)
            (staging / name / "model.onnx").write_bytes(tiny_onnx_bytes(seed * 1000 + index))
            target.write_bytes(tar_gz_bytes(staging, name))
        data = target.read_bytes()
        tables += [f'["{name}"]', f'url = "{target.resolve().as_uri()}"',
                   f'sha256 = "{hashlib.sha256(data).hexdigest()}"', f"size = {len(data)}",
                   'framework = "onnx"', f'model = "{name}/model.onnx"']
        tables += [(flags or {}).get(index, ""), ""]
    shutil.rmtree(staging, ignore_errors=True)
    manifest = folder / "models.toml"
    manifest.write_text("\n".join(tables))
    return manifest


def doit(manifest: Path, *args: str) -> tuple[Run, list[str]]:
    """`doit ARGS convert` in a child python; the run and the heavy modules it imported."""
    cmd = [sys.executable, "-c", _SCRIPT, "-f", str(PROJECT / "dodo.py"), *args, "convert",
           f"manifest={manifest}"]
    run = run_child(cmd, cwd=PROJECT)
    lines = [line for line in run.err.splitlines() if line.startswith("HEAVY=")]
    return run, json.loads(lines[-1][6:]) if lines else ["<no report>"]


def doit_floor(work: Path, repeats: int) -> float:
    """Median whole-process time of doit on a dodo.py with one empty task."""
    folder = work / "floor"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dodo.py").write_text('def task_x():\n    return {"actions": None}\n')
    cmd = [sys.executable, "-m", "doit", "-f", str(folder / "dodo.py"), "x"]
    return statistics.median(run_child(cmd, cwd=folder).seconds for _ in range(repeats))


def ran(run: Run, prefix: str) -> set[str]:
    """Tasks doit executed (lines ". task"), those starting with `prefix`."""
    return {line[3:].strip() for line in run.out.splitlines()
            if line.startswith(".  ") and line[3:].startswith(prefix)}


def up_to_date(run: Run) -> int:
    return sum(line.startswith("-- ") for line in run.out.splitlines())


def compile_bytecode() -> None:
    """Write the project's .pyc files, as pip does for an installed package (and `make setup`
    does here): with PYTHONDONTWRITEBYTECODE set, every doit start would compile them again."""
    import compileall

    for package in ("converter", "modelzoo"):
        compileall.compile_dir(str(PROJECT / package), quiet=1)


def noop_and_incremental(work: Path, count: int, repeats: int) -> list[Row]:
    compile_bytecode()
    folder = work / f"zoo{count}"
    manifest = write_zoo(folder, count)
    doit(manifest, "-n", "2")  # the build itself (once)
    runs = [doit(manifest) for _ in range(repeats)]
    heavy = sorted({m for _, imported in runs for m in imported})
    executed = sorted({t for run, _ in runs for t in ran(run, "convert:")})
    seconds = statistics.median(run.seconds for run, _ in runs)
    rows = [Row("no-op", f"doit convert, {count} models built", seconds, None, "s", "<= 0.3",
                f"median of {repeats}; {up_to_date(runs[0][0])} tasks up to date, ran {executed or 'none'}"),
            Row("no-op", "no numpy/onnx/TF/openvino imported", float(not heavy and not executed), None,
                "bool", ">= 1", f"heavy modules imported: {heavy or 'none'}")]
    rows.append(Row("no-op", "doit alone: a one-task dodo.py", doit_floor(work, repeats), None, "s", "",
                    "the runner's own start-up, a floor under the figure above"))
    changed = count // 2
    write_zoo(folder, count, flags={changed: 'disable_fusing = true'})
    run, _ = doit(manifest)
    converted = sorted(ran(run, "convert:"))
    only_one = converted == [f"convert:tiny-{changed:03d}-FP32"]
    rows += [Row("incremental", f"one flag changed of {count}", run.seconds, None, "s", "",
                 f"converted: {converted}"),
             Row("incremental", "only that model converted", float(only_one), None, "bool", ">= 1")]
    return rows


def cold_build(work: Path, count: int) -> list[Row]:
    """`doit -n 1` then `doit -n 2` on the same zoo, each with a fresh cache and task state."""
    seconds = {}
    for jobs in ("1", "2"):
        folder = work / f"cold{count}-n{jobs}"
        shutil.rmtree(folder, ignore_errors=True)
        manifest = write_zoo(folder, count, seed=7)
        run, _ = doit(manifest, "-n", jobs)
        seconds[jobs] = run.seconds
    return [Row("cold build", f"{count} models, -n 1 vs -n 2", seconds["1"], seconds["2"], "s", "",
                "ratio is the speed-up of -n 2 (time -n 1 / time -n 2)")]
