"""Run `doit` on our dodo.py in a child process, as a user would, and report what it did."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "onnx", "tensorflow", "openvino", "onnxruntime", "lxml")

# Runs doit in-process, then says which heavy modules that process imported.
_SCRIPT = f"""
import json, sys
from doit.doit_cmd import DoitMain
code = DoitMain().run(sys.argv[1:])
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print("HEAVY=" + json.dumps(heavy), file=sys.stderr)
sys.exit(code)
"""


@dataclass
class DoitRun:
    code: int
    out: str
    err: str
    heavy: list[str]

    def executed(self, prefix: str = "") -> set[str]:
        """Tasks doit ran (not up to date), optionally only those starting with `prefix`."""
        return {line[3:].strip() for line in self.out.splitlines()
                if line.startswith(".  ") and line[3:].startswith(prefix)}

    def up_to_date(self) -> set[str]:
        return {line[3:].strip() for line in self.out.splitlines() if line.startswith("-- ")}


def run_doit(*args: str, manifest: Path, timeout: float = 600) -> DoitRun:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-c", _SCRIPT, "-f", str(PROJECT / "dodo.py"), *args, f"manifest={manifest}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=PROJECT)
    heavy_lines = [l for l in proc.stderr.splitlines() if l.startswith("HEAVY=")]
    heavy = json.loads(heavy_lines[-1][6:]) if heavy_lines else []
    return DoitRun(proc.returncode, proc.stdout, proc.stderr, heavy)
