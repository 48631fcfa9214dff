"""File system helpers every stage uses so that each file or tree appears atomically.

A file is written to a temporary name in the destination's own folder, flushed and fsynced, then
renamed over the final name with `os.replace`; a tree is built in a staging folder beside its final
place and renamed in. A crash at any point leaves either the old state or the new one, plus at
most a clearly named temporary that the next run removes, never a half-written final name.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

CHUNK = 1 << 20
STAGING_MARK = ".staging-"
TEMP_SUFFIX = ".tmp"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename inside `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _file_mode() -> int:
    """The mode `open()` would give a new file under the process's umask (mkstemp's temporary
    is private, 0600, and would stay so after the rename)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes `path` only if the block finishes without an error;
    it gets the permissions an ordinary new file would."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_dir(final.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def staging_path(final: Path) -> Path:
    """A fresh, clearly named sibling of `final` on the same file system (so rename works)."""
    return final.parent / f".{final.name}{STAGING_MARK}{os.urandom(6).hex()}"


def remove_stale_staging(final: Path) -> None:
    """Delete staging folders an interrupted run left for `final` (call with its lock held)."""
    if not final.parent.is_dir():
        return
    for leftover in final.parent.glob(f".{final.name}{STAGING_MARK}*"):
        remove_tree(leftover)


@contextlib.contextmanager
def atomic_directory(final: str | os.PathLike[str], durable: bool = True) -> Iterator[Path]:
    """Yield an empty staging folder that is renamed to `final` if the block succeeds.

    On an error the staging folder is removed and `final` is left untouched. `final` must not
    exist yet; callers hold a lock so that no one else creates it meanwhile. `durable=False`
    skips flushing the files to disk before the rename: only for entries whose every use
    re-checks their content (downloads are re-hashed), so that a power cut cannot leave a
    torn file that would be trusted.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(final)
    staging.mkdir()
    try:
        yield staging
        if durable:
            fsync_tree(staging)
        os.rename(staging, final)
    except BaseException:
        remove_tree(staging)
        raise
    fsync_dir(final.parent)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` so a rename never publishes unwritten data."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        fsync_dir(folder)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove a file or a folder tree; a missing path is fine, read-only entries are forced."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    if not path.exists():
        return

    def force(func, target, _error):  # type: ignore[no-untyped-def]
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target) or ".", 0o700)
            os.chmod(target, 0o700)
            func(target)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=force)
    else:
        shutil.rmtree(path, onerror=force)


def hash_file(path: str | os.PathLike[str], algo: str) -> str:
    """The hex digest of a file's content, read in chunks."""
    digest = hashlib.new(algo)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
