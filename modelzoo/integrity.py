"""Integrity records of the cache's tree entries (unpacked, prepared, ir, verify).

An entry is renamed into the cache whole, so a crash cannot half-write it; but a disk error, a
stray editor or a bad copy of `cache/` can still change its bytes later. When an entry is
stored, `write_record` lists every file in it with its size and sha256 in `.integrity.json`;
`check_tree` compares the entry with that record when it is used (all of it, or only the
files a stage reads), and the cache deletes and rebuilds an entry that fails. An entry
without a record (one from an older version, or a hand-made one) fails too.

Only hashlib and json here: the restore path imports nothing heavy.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from .fsutil import atomic_write_text, hash_file

RECORD = ".integrity.json"
_ALGO = "sha256"


def _walk(folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Relative POSIX path -> file, and relative path -> symlink target, under `folder`."""
    files: dict[str, Path] = {}
    links: dict[str, str] = {}
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                links[relative] = os.readlink(path)
            elif name in names and relative != RECORD:
                files[relative] = path
    return files, links


def write_record(folder: Path) -> None:
    """Record every file of `folder` (a staging folder about to be renamed into the cache)."""
    atomic_write_text(folder / RECORD, record_text(make_record(folder)))


def make_record(folder: Path) -> dict:
    """The record of `folder`: every file's size and sha256, and every link's target."""
    files, links = _walk(folder)
    return {"algo": _ALGO,
            "files": {name: [path.stat().st_size, hash_file(path, _ALGO)]
                      for name, path in sorted(files.items())},
            "links": dict(sorted(links.items()))}


def record_text(record: dict) -> str:
    return json.dumps(record, indent=0, sort_keys=True)


def parse_record(text: str | bytes) -> dict | None:
    """The record in `text` if it is well-formed (every name a plain relative path), else None."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    ok = isinstance(record, dict) and isinstance(record.get("files"), dict) \
        and isinstance(record.get("links"), dict) and record.get("algo") == _ALGO \
        and all(_plain(name) and isinstance(value, list) and len(value) == 2
                for name, value in record["files"].items()) \
        and all(_plain(name) and isinstance(target, str) for name, target in record["links"].items())
    return record if ok else None


def _plain(name: object) -> bool:
    """A relative POSIX path that stays inside its folder."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def read_record(folder: Path) -> dict | None:
    try:
        return parse_record((folder / RECORD).read_text())
    except OSError:
        return None


def _selected(name: str, only: Iterable[str] | None) -> bool:
    if only is None:
        return True
    return any(prefix in ("", ".") or name == prefix or name.startswith(prefix.rstrip("/") + "/")
               for prefix in only)


def check_tree(folder: Path, only: Iterable[str] | None = None) -> str | None:
    """None when `folder` matches its record, else what is wrong (for a log line).

    `only` limits the check to these relative paths (files, or folders and what is under
    them); without it every file is checked and a file the record does not list is a fault.
    """
    folder = Path(folder)
    record = read_record(folder)
    if record is None:
        return f"no readable {RECORD}"
    only = list(only) if only is not None else None
    for name, expected in record["files"].items():
        if _selected(name, only):
            problem = _check_file(folder / name, expected)
            if problem:
                return f"{name}: {problem}"
    for name, target in record["links"].items():
        if _selected(name, only) and not _link_is(folder / name, target):
            return f"{name}: the link changed"
    if only is None:
        files, links = _walk(folder)
        extra = sorted(set(files) - set(record["files"]) | set(links) - set(record["links"]))
        if extra:
            return f"{extra[0]}: not in the record"
    return None


def _check_file(path: Path, expected: list) -> str | None:
    try:
        if path.is_symlink() or not path.is_file():
            return "missing"
        if path.stat().st_size != expected[0]:
            return f"size {path.stat().st_size}, recorded {expected[0]}"
        if hash_file(path, _ALGO) != expected[1]:
            return "content changed"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None


def _link_is(path: Path, target: str) -> bool:
    try:
        return os.readlink(path) == target
    except OSError:
        return False
