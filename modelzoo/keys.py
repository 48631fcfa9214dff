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


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


@lru_cache(maxsize=None)
def runtime_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """The installed versions of `packages` (distribution names), absent ones left out.

    Read from the `NAME-VERSION.dist-info` folder names on sys.path: one directory listing per
    path entry, where importlib.metadata would cost an import and a scan per package, on the
    no-op path of every build."""
    import os
    import sys

    wanted = {_normalized(p): p for p in packages}
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in names:
            if not entry.endswith(".dist-info") or "-" not in entry:
                continue
            name, version = entry[:-len(".dist-info")].rsplit("-", 1)
            package = wanted.get(_normalized(name))
            if package is not None and package not in found:
                found[package] = version
    return dict(sorted(found.items()))
