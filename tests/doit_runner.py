"""Run `doit` on our dodo.py in a child process, as a user would, and report what it did."""
from __future__ import annotations

import functools
import json
import os
import resource
import signal
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


def run_doit(*args: str, manifest: Path, timeout: float = 600,
             file_size_limit: int | None = None, cwd: Path = PROJECT) -> DoitRun:
    """`file_size_limit` (bytes) makes a bigger write fail with EFBIG, as on a full disk;
    `cwd` is the folder doit runs in (the project's, as `make zoo` runs it)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-c", _SCRIPT, "-f", str(PROJECT / "dodo.py"), *args, f"manifest={manifest}"]
    limit = None if file_size_limit is None else functools.partial(_limit_file_size, file_size_limit)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
                          preexec_fn=limit)
    heavy_lines = [l for l in proc.stderr.splitlines() if l.startswith("HEAVY=")]
    heavy = json.loads(heavy_lines[-1][6:]) if heavy_lines else []
    return DoitRun(proc.returncode, proc.stdout, proc.stderr, heavy)


def _limit_file_size(limit: int) -> None:
    """In the child: writes past `limit` bytes fail with EFBIG instead of killing it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
