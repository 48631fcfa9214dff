"""Cache keys: a hash of everything that can change a stage's output, and nothing else.

Computed when doit loads the tasks, so they must be cheap: they hash the manifest's facts (the
archive's checksum already stands for its bytes) and the source of the code that does the work,
never the model files themselves, and import nothing heavy.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

# Bump when the layout of what a stage writes changes without its code changing.
FORMAT_VERSION = "1"


def digest(*parts: object) -> str:
    """sha256 of the parts' canonical JSON."""
    text = json.dumps([FORMAT_VERSION, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=None)
def code_digest(*paths: str) -> str:
    """A hash of the Python sources at `paths` (folders or files, relative to the project):
    a converter change re-keys every IR it made, an edit elsewhere re-keys nothing."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    files = []
    for name in paths:
        path = root / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for path in files:
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()
