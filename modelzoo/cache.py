"""A content-addressed store for downloads, unpacked trees and IR outputs.

Layout under the cache root::

    downloads/<algo>/<hh>/<rest-of-hex>/<filename>   a fetched file, keyed by its checksum
    unpacked/<hh>/<rest-of-hex>/...                  an archive's tree, keyed by its checksum
    ir/<hh>/<rest-of-key>/...                        IR outputs, keyed by a hex key of the caller
    partial/<algo>-<hex>.part                        a download being resumed (never final)
    locks/<kind>-<key>.lock                          one lock file per entry

Every entry is complete or absent: it is built in a staging folder beside its final place and
renamed in while a `filelock` lock for that entry is held, so a second process waits for the lock
and then finds the entry done instead of building it again.

With a remote (`modelzoo.remote`), an entry missing here is first fetched from it, into the same
staging folder under the same lock, and every entry built here is uploaded to it.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path, PurePosixPath
from typing import Callable, NamedTuple

from .errors import CacheError
from .fsutil import atomic_directory, hash_file, remove_stale_staging, remove_tree, staging_path
from .integrity import check_tree, make_record, write_record

log = logging.getLogger(__name__)

DIGEST_LENGTHS = {"sha256": 64, "sha384": 96}
_HEX = re.compile(r"[0-9a-f]+")
_KEY = re.compile(r"[0-9a-f]{8,128}")
_FILENAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")


class Checksum(NamedTuple):
    """An algorithm name (`sha256` or `sha384`) and the expected hex digest, lower case."""

    algo: str
    hexdigest: str

    @classmethod
    def of(cls, value: "Checksum | tuple[str, str]") -> "Checksum":
        """Validate a checksum given as a `Checksum` or an `(algo, hexdigest)` pair."""
        try:
            algo, digest = value
        except (TypeError, ValueError):
            raise CacheError(f"a checksum must be an (algo, hexdigest) pair, "
                             f"got {value!r}") from None
        algo, digest = str(algo).lower(), str(digest).lower()
        if algo not in DIGEST_LENGTHS:
            raise CacheError(f"checksum algorithm {algo!r} is not supported; use sha256 or sha384")
        if len(digest) != DIGEST_LENGTHS[algo] or not _HEX.fullmatch(digest):
            raise CacheError(f"{algo} checksum {digest!r} is not {DIGEST_LENGTHS[algo]} hex digits")
        return cls(algo, digest)

    def __str__(self) -> str:
        return f"{self.algo}:{self.hexdigest}"


def cached_filename(url: str) -> str:
    """The name a download of `url` is stored under: its last path part, made safe."""
    from urllib.parse import unquote, urlsplit

    path = unquote(urlsplit(url).path) if "://" in url else url
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", PurePosixPath(path.replace("\\", "/")).name)
    return name.lstrip(".") or "download"


def verify_file(path: str | Path, algo: str, digest: str) -> bool:
    """True if the file exists and its `algo` digest equals `digest` (case-insensitive)."""
    try:
        return hash_file(path, algo) == digest.lower()
    except FileNotFoundError:
        return False


def _split(hexdigest: str) -> tuple[str, str]:
    return hexdigest[:2], hexdigest[2:]


class Cache:
    """The cache folder; every method is safe to call from several processes at once."""

    def __init__(self, root: str | Path, *, lock_timeout: float = -1, remote=None) -> None:
        """`lock_timeout` is how long to wait for another process's entry, -1 for ever;
        `remote` a `modelzoo.remote.RemoteCache`, or None for a local cache alone."""
        self.root = Path(root).resolve()
        self.lock_timeout = lock_timeout
        self.remote = remote

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})" if self.remote is None else \
            f"Cache({str(self.root)!r}, remote={self.remote.url!r})"

    def relocated(self, root: str | Path) -> "Cache":
        """The same cache with another local folder (a worker's own), sharing the remote."""
        return Cache(root, lock_timeout=self.lock_timeout, remote=self.remote)

    # -- locks ---------------------------------------------------------------------------------

    def lock(self, kind: str, key: str):  # -> filelock.FileLock
        """The lock for one entry; re-entrant within a process (one lock object per path)."""
        import filelock

        folder = self.root / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(folder / f"{kind}-{key}.lock", timeout=self.lock_timeout,
                                 is_singleton=True)

    def _locked(self, kind: str, key: str):
        return _LockGuard(self.lock(kind, key), f"{kind} entry {key}")

    # -- downloads ----------------------------------------------------------------------------

    def download_dir(self, checksum: Checksum | tuple[str, str]) -> Path:
        algo, digest = Checksum.of(checksum)
        head, rest = _split(digest)
        return self.root / "downloads" / algo / head / rest

    def partial_path(self, checksum: Checksum | tuple[str, str]) -> Path:
        """Where an interrupted download of `checksum` is kept for a `Range` resume."""
        algo, digest = Checksum.of(checksum)
        return self.root / "partial" / f"{algo}-{digest}.part"

    def download_lock(self, checksum: Checksum | tuple[str, str]):
        algo, digest = Checksum.of(checksum)
        return self._locked("download", f"{algo}-{digest}")

    def lookup_download(self, checksum: Checksum | tuple[str, str]) -> Path | None:
        """The cached file for `checksum`, re-verified; a file that no longer matches is deleted."""
        checksum = Checksum.of(checksum)
        folder = self.download_dir(checksum)
        if not folder.is_dir():
            return self._pull_download(checksum)
        with self.download_lock(checksum):
            return _verified_download(folder, checksum, "cached")

    def store_download(self, checksum: Checksum | tuple[str, str], source: str | Path,
                       filename: str) -> Path:
        """Move the verified file `source` into the cache as `filename`; return its cache path.

        The caller has checked the content; `source` must be on the cache's file system (the
        `partial_path` is). If the entry appeared meanwhile, `source` is dropped.
        """
        checksum = Checksum.of(checksum)
        if not _FILENAME.fullmatch(filename):
            raise CacheError(f"{filename!r} cannot be a cached file name")
        with self.download_lock(checksum):
            existing = self.lookup_download(checksum)
            if existing is not None:
                Path(source).unlink(missing_ok=True)
                return existing
            final = self.download_dir(checksum)
            remove_stale_staging(final)
            # not flushed to disk: lookup_download re-hashes the file on every use anyway
            with atomic_directory(final, durable=False) as staging:
                Path(source).replace(staging / filename)
            self._push(_download_kind(checksum), checksum.hexdigest, final, make_record(final))
            return final / filename

    def _pull_download(self, checksum: Checksum) -> Path | None:
        """A download missing here, fetched from the remote (and checked against its checksum)."""
        if self.remote is None or not self.remote.available:
            return None
        final = self.download_dir(checksum)
        with self.download_lock(checksum):
            if not final.is_dir():
                remove_stale_staging(final)
                if not self._pull(_download_kind(checksum), checksum.hexdigest, final, keep_record=False):
                    return None
            return _verified_download(final, checksum, "remote")

    # -- trees: unpacked archives and IR outputs -----------------------------------------------

    def unpacked_dir(self, checksum: Checksum | tuple[str, str]) -> Path:
        """Keyed by the archive's checksum (the algorithm is implied by the digest's length)."""
        head, rest = _split(Checksum.of(checksum).hexdigest)
        return self.root / "unpacked" / head / rest

    def lookup_unpacked(self, checksum: Checksum | tuple[str, str]) -> Path | None:
        """The unpacked tree if it is present and intact (a damaged one is deleted)."""
        return self._lookup_tree("unpacked", Checksum.of(checksum).hexdigest,
                                 self.unpacked_dir(checksum))

    def store_unpacked(self, checksum: Checksum | tuple[str, str],
                       build: Callable[[Path], None]) -> Path:
        """Return the unpacked tree, calling `build(staging_dir)` to fill it if it is absent."""
        return self._store_tree("unpacked", Checksum.of(checksum).hexdigest,
                                self.unpacked_dir(checksum), build)

    def ir_dir(self, key: str) -> Path:
        key = _check_key(key)
        head, rest = _split(key)
        return self.root / "ir" / head / rest

    def lookup_ir(self, key: str) -> Path | None:
        return self._lookup_tree("ir", _check_key(key), self.ir_dir(key))

    def store_ir(self, key: str, build: Callable[[Path], None]) -> Path:
        """Return the IR folder for `key`, calling `build(staging_dir)` to fill it if absent."""
        return self._store_tree("ir", _check_key(key), self.ir_dir(key), build)

    def tree_dir(self, kind: str, key: str) -> Path:
        """The folder of a tree entry `kind/<hh>/<rest-of-key>` (prepared, verify, ...)."""
        key = _check_key(key)
        head, rest = _split(key)
        return self.root / kind / head / rest

    def store_tree(self, kind: str, key: str, build: Callable[[Path], None],
                   only: list[str] | None = None) -> Path:
        """The intact entry `kind/<key>`, built by `build(staging_dir)` if absent or damaged.

        `only` limits the integrity check to the files the caller will read (see
        `integrity.check_tree`); without it the whole entry is checked.
        """
        return self._store_tree(kind, _check_key(key), self.tree_dir(kind, key), build, only)

    def _lookup_tree(self, kind: str, key: str, final: Path) -> Path | None:
        if final.is_dir() and check_tree(final) is None:
            return final
        if not final.is_dir() and (self.remote is None or not self.remote.available):
            return None
        with self._locked(kind, key):
            if final.is_dir() and not self._discard_if_damaged(final, None):
                return final
            remove_stale_staging(final)
            if self._pull(kind, key, final):
                return final
        return None

    def _store_tree(self, kind: str, key: str, final: Path,
                    build: Callable[[Path], None], only: list[str] | None = None) -> Path:
        if final.is_dir() and check_tree(final, only) is None:
            return final
        with self._locked(kind, key):
            if final.is_dir() and not self._discard_if_damaged(final, only):
                return final  # another process built it while we waited
            remove_stale_staging(final)
            if self._pull(kind, key, final):
                return final
            with atomic_directory(final) as staging:
                build(staging)
                write_record(staging)
        self._push(kind, key, final)
        return final

    # -- the remote ---------------------------------------------------------------------------
    def _pull(self, kind: str, key: str, final: Path, keep_record: bool = True) -> bool:
        """With the entry's lock held and `final` absent: fetch the entry from the remote into
        a staging folder renamed to `final`; False (and nothing left behind) on a miss."""
        if self.remote is None or not self.remote.available:
            return False
        try:
            with atomic_directory(final, durable=False) as staging:
                if not self.remote.fetch(kind, key, staging, keep_record):
                    raise _Miss
        except _Miss:
            return False
        log.info("restored %s/%s from the remote cache", kind, key[:12])
        return True

    def _push(self, kind: str, key: str, final: Path, record: dict | None = None) -> None:
        """Upload an entry built here (a remote that fails is given up, with one warning)."""
        if self.remote is not None and self.remote.available:
            self.remote.publish(kind, key, final, record)

    def entry_record(self, kind: str, key: str) -> dict | None:
        """The integrity record of the tree entry `kind/key` when it is here and intact, else
        when the remote has it (checked when it is fetched); None when neither has it."""
        from .integrity import read_record

        folder = self.tree_dir(kind, key)
        if self._intact(folder):
            return read_record(folder)
        if self.remote is None or not self.remote.available:
            return None
        return self.remote.read_record(kind, key)

    def has_entry(self, kind: str, key: str) -> bool:
        """Whether the tree entry `kind/key` is here and intact, or on the remote."""
        if self._intact(self.tree_dir(kind, key)):
            return True
        return self.remote is not None and self.remote.available and self.remote.has(kind, key)

    def _intact(self, folder: Path) -> bool:
        """A local entry that matches its record; checked once per process."""
        if folder in _INTACT:
            return folder.is_dir()
        if folder.is_dir() and check_tree(folder) is None:
            _INTACT.add(folder)
            return True
        return False

    def entries(self):
        """Every complete entry here, as (kind, key, folder): downloads, trees of every kind."""
        for kind_dir in sorted(self.root.iterdir()) if self.root.is_dir() else ():
            if kind_dir.name in ("partial", "locks") or not kind_dir.is_dir():
                continue
            if kind_dir.name == "downloads":
                for algo_dir in sorted(kind_dir.iterdir()):
                    yield from _keyed_folders(f"downloads/{algo_dir.name}", algo_dir)
            else:
                yield from _keyed_folders(kind_dir.name, kind_dir)

    def push_entry(self, kind: str, key: str, folder: Path) -> bool:
        """Upload one local entry (`doit cache push`)."""
        record = make_record(folder) if kind.startswith("downloads/") else None
        return self.remote.publish(kind, key, folder, record)

    def pull_entry(self, kind: str, key: str) -> Path | None:
        """The entry `kind/key`, fetched from the remote if it is missing here (`doit cache pull`)."""
        if kind.startswith("downloads/"):
            return self.lookup_download((kind.split("/", 1)[1], key))
        return self._lookup_tree(kind, _check_key(key), self.tree_dir(kind, key))

    @staticmethod
    def _discard_if_damaged(final: Path, only: list[str] | None) -> bool:
        """With the entry's lock held: True (and the entry gone) if it fails its check.

        The entry is first renamed to a staging name, so a crash while deleting it leaves
        only a leftover that the next build of the entry sweeps away.
        """
        problem = check_tree(final, only)
        if problem is None:
            return False
        log.warning("cache entry %s is damaged (%s); rebuilding it", final, problem)
        doomed = staging_path(final)
        os.rename(final, doomed)
        remove_tree(doomed)
        return True


def _verified_download(folder: Path, checksum: Checksum, origin: str) -> Path | None:
    """With the entry's lock held: the one file of a download entry if it matches its
    checksum; else the entry is deleted (it is fetched again) and None."""
    files = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
    if len(files) == 1 and verify_file(files[0], *checksum):
        return files[0]
    log.warning("%s download %s does not match its %s; fetching it again", origin, folder,
                checksum.algo)
    remove_tree(folder)
    return None


# Entries found intact by `Cache._intact` in this process (a build asks once per stage).
_INTACT: set[Path] = set()


class _Miss(Exception):
    """The remote had no intact entry: the staging folder is dropped."""


def _download_kind(checksum: Checksum) -> str:
    """A download's kind on the remote: `downloads/<algo>`, keyed by its digest."""
    return f"downloads/{checksum.algo}"


def _keyed_folders(kind: str, folder: Path):
    """(kind, key, path) of every `<hh>/<rest>` entry folder under `folder`."""
    for head in sorted(folder.iterdir()):
        if not head.is_dir() or len(head.name) != 2:
            continue
        for rest in sorted(head.iterdir()):
            if rest.is_dir() and not rest.name.startswith("."):
                yield kind, head.name + rest.name, rest


def _check_key(key: str) -> str:
    key = str(key).lower()
    if not _KEY.fullmatch(key):
        raise CacheError(f"cache key {key!r} is not 8 to 128 hex digits")
    return key


class _LockGuard:
    """Hold a file lock, turning a timeout into a CacheError that says who to wait for."""

    def __init__(self, lock, what: str) -> None:  # type: ignore[no-untyped-def]
        self._lock = lock
        self._what = what

    def __enter__(self) -> None:
        import filelock

        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise CacheError(f"timed out waiting for the lock on the cache's {self._what} "
                             f"({self._lock.lock_file}); another build may be running, "
                             "wait for it or delete the lock file if none is") from None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
