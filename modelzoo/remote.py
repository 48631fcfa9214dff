"""The cache's second level: the same content-addressed entries on any fsspec file system.

`remote_cache = "s3://bucket/prefix"` in the manifest's `[defaults]` (or `gs://`, `az://`,
`file:///mnt/shared`, any URL fsspec knows; the environment variable `MODELZOO_REMOTE_CACHE`
overrides it) makes every machine that builds the zoo share its work: on a local miss an entry
is fetched by its key, and every entry built locally is uploaded. Credentials and endpoints come
from each file system library's usual places (for S3: `AWS_*` variables, `~/.aws`, instance
roles; `AWS_ENDPOINT_URL_S3` for another S3 server), never from the manifest.

Layout under the URL::

    blobs/<hh>/<rest-of-sha256>               a file's bytes, named by their sha256
    <kind>/<hh>/<rest-of-key>/.integrity.json an entry: its files (size, sha256) and links

An entry is its record; the record names blobs. Uploading writes every blob so that it appears
whole or not at all (an object store's PUT does; on a plain or network folder it is written under
a temporary name and moved), then publishes the record last, the same way. A reader trusts only an entry
whose record is there, and checks every blob it fetches against the record; an entry that
fails is deleted on the remote (it is rebuilt and uploaded again) and is a miss. Two machines
uploading the same entry at once both leave a whole record naming whole blobs, whichever wins.

A remote that is down, refuses writes or is misconfigured never fails the build: the first
error is logged once and the process goes on with the local cache alone.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

from .fsutil import hash_file
from .integrity import RECORD, parse_record, record_text

log = logging.getLogger(__name__)

REMOTE_ENV = "MODELZOO_REMOTE_CACHE"
BLOBS = "blobs"
TEMP_MARK = ".tmp-"
# Object stores, where a PUT publishes an object whole or not at all.
WHOLE_PUTS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"})
# S3 clients retry for a minute by default; a remote that does not answer should cost seconds.
_S3_OPTIONS = {"config_kwargs": {"connect_timeout": 5, "read_timeout": 60,
                                 "retries": {"max_attempts": 2, "mode": "standard"}}}


class _Unreadable(Exception):
    """A record that is not a well-formed integrity record."""


class RemoteUnavailable(Exception):
    """The remote failed; the cache goes on without it (see `RemoteCache.degrade`)."""


class _Connection:
    """An opened remote in one process: its file system, its root path, and why it was given
    up (None while it works)."""

    def __init__(self, fs, root: str) -> None:
        self.fs, self.root = fs, root
        # records read, by (kind, key): an entry's key names its content, so a record read once
        # serves the stages that ask again (a damaged entry is forgotten when it is rejected)
        self.records: dict[tuple[str, str], dict] = {}


# (process id, url) -> its connection: every task a process runs shares one client and one
# verdict on the remote's health (tasks reach a worker process pickled, as new RemoteCaches).
_CONNECTIONS: dict[tuple[int, str], _Connection] = {}
_FAILED: dict[tuple[int, str], str] = {}


class RemoteCache:
    """One remote cache URL. Cheap to create and to pickle (it is its URL): the file system is
    opened on first use, once per process."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def __repr__(self) -> str:
        return f"RemoteCache({self.url!r})"

    def __getstate__(self) -> dict:
        return {"url": self.url}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"])

    @property
    def failure(self) -> str | None:
        """Why this process gave the remote up, or None."""
        return _FAILED.get((os.getpid(), self.url))

    @property
    def available(self) -> bool:
        return self.failure is None

    # -- the file system --------------------------------------------------------------------
    def _connection(self) -> _Connection:
        key = (os.getpid(), self.url)
        connection = _CONNECTIONS.get(key)
        if connection is None:
            import fsspec

            protocol = self.url.split("://", 1)[0] if "://" in self.url else "file"
            options = _S3_OPTIONS if protocol in ("s3", "s3a") else {}
            # an instance of our own: fsspec's shared ones would outlive a fork
            fs, root = fsspec.core.url_to_fs(self.url, skip_instance_cache=True, **options)
            connection = _CONNECTIONS[key] = _Connection(fs, root.rstrip("/"))
        return connection

    def _open(self):
        return self._connection().fs

    def _path(self, *parts: str) -> str:
        return "/".join([self._connection().root, *parts])

    def entry_path(self, kind: str, key: str) -> str:
        return self._path(kind, key[:2], key[2:])

    def blob_path(self, sha256: str) -> str:
        return self._path(BLOBS, sha256[:2], sha256[2:])

    def degrade(self, exc: BaseException) -> None:
        """Give the remote up for the rest of this process, saying so once."""
        if self.failure is None:
            _FAILED[(os.getpid(), self.url)] = f"{type(exc).__name__}: {exc}"
            log.warning("remote cache %s is unavailable (%s); going on with the local cache "
                        "only", self.url, self.failure)

    def _guarded(self, what, *args, default=None):
        """Run `what(*args)` against the remote; any failure of the remote degrades to
        `default`, never an error of the build."""
        if self.failure is not None:
            return default
        try:
            return what(*args)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - any fault of a remote is survivable
            self.degrade(exc)
            return default

    # -- reading ----------------------------------------------------------------------------
    def fetch(self, kind: str, key: str, staging: Path, keep_record: bool = True) -> bool:
        """Fill the empty folder `staging` with the entry `kind/key` (and its record, unless
        `keep_record` is False: a download's checksum is its check); False on a miss (absent,
        damaged, or the remote unavailable), with `staging` then left empty."""
        return bool(self._guarded(self._fetch, kind, key, Path(staging), keep_record, default=False))

    def _record(self, kind: str, key: str) -> dict | None:
        """The entry's record (None when there is none); `_Unreadable` when it is malformed."""
        known = self._connection().records
        if (kind, key) not in known:
            try:
                text = self._open().cat_file(f"{self.entry_path(kind, key)}/{RECORD}")
            except FileNotFoundError:
                return None
            record = parse_record(text)
            if record is None:
                raise _Unreadable
            known[(kind, key)] = record
        return known[(kind, key)]

    def _fetch(self, kind: str, key: str, staging: Path, keep_record: bool) -> bool:
        fs = self._open()
        try:
            record = self._record(kind, key)
        except _Unreadable:
            return self._reject(kind, key, staging, "its record is not readable")
        if record is None:
            return False
        names = sorted(record["files"])
        targets = [staging / name for name in names]
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if names:
                fs.get([self.blob_path(record["files"][n][1]) for n in names],
                       [str(t) for t in targets])
        except FileNotFoundError:
            return self._reject(kind, key, staging, "a file of it is missing")
        for name, target in zip(names, targets):
            size, sha = record["files"][name]
            if not target.is_file() or target.stat().st_size != size or hash_file(target, "sha256") != sha:
                self._delete_blob(sha)
                return self._reject(kind, key, staging, f"{name} does not match its record")
        for name, link in record["links"].items():
            if os.path.isabs(link) or os.path.normpath(os.path.join(os.path.dirname(name), link)).startswith(".."):
                return self._reject(kind, key, staging, f"the link {name} points outside it")
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(link, staging / name)
        if keep_record:
            (staging / RECORD).write_text(record_text(record))
        return True

    def _reject(self, kind: str, key: str, staging: Path, problem: str) -> bool:
        """A damaged remote entry: log it, delete its record (it is rebuilt and uploaded
        again), leave `staging` empty, and report a miss."""
        log.warning("remote cache entry %s/%s is damaged (%s); rebuilding it", kind, key, problem)
        self._connection().records.pop((kind, key), None)
        try:
            self._open().rm_file(f"{self.entry_path(kind, key)}/{RECORD}")
        except FileNotFoundError:
            pass
        _empty(staging)
        return False

    def _delete_blob(self, sha: str) -> None:
        try:
            self._open().rm_file(self.blob_path(sha))
        except FileNotFoundError:
            pass

    def has(self, kind: str, key: str) -> bool:
        return self.read_record(kind, key) is not None

    # -- writing ----------------------------------------------------------------------------
    def publish(self, kind: str, key: str, folder: Path, record: dict | None = None) -> bool:
        """Upload the local entry `folder` (its record, or `record` for a folder without one);
        False when the remote is unavailable."""
        return bool(self._guarded(self._publish, kind, key, Path(folder), record, default=False))

    def _publish(self, kind: str, key: str, folder: Path, record: dict | None) -> bool:
        if record is None:
            record = parse_record((folder / RECORD).read_bytes())
            if record is None:
                raise ValueError(f"{folder} has no readable {RECORD}")
        blobs = {self.blob_path(sha): str(folder / name) for name, (_size, sha) in sorted(record["files"].items())}
        if _protocols(self._open()) & WHOLE_PUTS:
            if blobs:  # one call: the file system sends them concurrently
                self._open().put(list(blobs.values()), list(blobs))
        else:
            for remote, local in blobs.items():
                self._put_whole(remote, local=local)
        self._put_whole(f"{self.entry_path(kind, key)}/{RECORD}", data=record_text(record).encode())
        self._connection().records[(kind, key)] = record
        return True

    def _put_whole(self, remote: str, *, local: str | None = None, data: bytes | None = None) -> None:
        """Upload a file (or bytes) so that readers never see it partial: an object store's
        PUT is whole already; elsewhere (a plain or network folder, where a put writes in
        place) it goes under a temporary name first, then is moved to `remote`."""
        fs = self._open()
        whole = _protocols(fs) & WHOLE_PUTS
        target = remote if whole else f"{remote}{TEMP_MARK}{uuid.uuid4().hex}"
        if not whole:
            fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
        if local is not None:
            fs.put_file(local, target)
        else:
            fs.pipe_file(target, data)
        if whole:
            return
        try:
            fs.mv(target, remote)
        except BaseException:
            try:
                fs.rm_file(target)
            except Exception:  # noqa: BLE001 - the original error matters, not this one
                pass
            raise

    # -- listing and collecting ---------------------------------------------------------------
    def records(self) -> dict[tuple[str, str], float]:
        """(kind, key) -> modification time (epoch seconds) of every entry's record."""
        found = self._guarded(self._records, default=None)
        if found is None:
            raise RemoteUnavailable(self.failure or "unavailable")
        return found

    def _records(self) -> dict[tuple[str, str], float]:
        fs = self._open()
        found = {}
        root = self._connection().root + "/"
        for path, info in fs.find(self._connection().root, detail=True).items():
            relative = path[len(root):] if path.startswith(root) else path
            parts = relative.split("/")
            if parts[-1] != RECORD or parts[0] == BLOBS or len(parts) < 4:
                continue
            kind, key = "/".join(parts[:-3]), parts[-3] + parts[-2]
            found[(kind, key)] = _mtime(info)
        return found

    def read_record(self, kind: str, key: str) -> dict | None:
        """The entry's record, or None when it is absent, malformed or the remote unavailable."""
        def read():
            try:
                return self._record(kind, key)
            except _Unreadable:
                return None
        return self._guarded(read)

    def collect(self, live: set[tuple[str, str]], keep_days: float) -> tuple[int, int]:
        """Delete entries older than `keep_days` that are not `live`, then blobs no remaining
        entry names and older than `keep_days` (a younger one may belong to an upload in
        flight). Returns (entries, blobs) deleted."""
        fs = self._open()
        cutoff = time.time() - keep_days * 86400
        records = self.records()
        entries = 0
        for (kind, key), mtime in sorted(records.items()):
            if (kind, key) not in live and mtime < cutoff:
                fs.rm(self.entry_path(kind, key), recursive=True)
                entries += 1
        kept = set()
        for kind, key in set(records) - {k for k, t in records.items() if k not in live and t < cutoff}:
            record = self.read_record(kind, key)
            if record:
                kept.update(sha for _size, sha in record["files"].values())
        blobs = 0
        blob_root = self._path(BLOBS) + "/"
        try:
            listing = fs.find(self._path(BLOBS), detail=True)
        except FileNotFoundError:
            listing = {}
        for path, info in listing.items():
            name = path[len(blob_root):].replace("/", "") if path.startswith(blob_root) else ""
            if name.split(TEMP_MARK)[0] not in kept and _mtime(info) < cutoff:
                fs.rm_file(path)
                blobs += 1
        return entries, blobs


def _mtime(info: dict) -> float:
    """A listing's modification time in epoch seconds (S3 says LastModified, a folder mtime)."""
    value = info.get("LastModified") or info.get("mtime") or info.get("last_modified") or info.get("created")
    if value is None:
        return time.time()
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return float(value)


def _protocols(fs) -> set[str]:
    protocol = fs.protocol
    return {protocol} if isinstance(protocol, str) else set(protocol)


def _empty(folder: Path) -> None:
    from .fsutil import remove_tree

    for child in list(folder.iterdir()):
        remove_tree(child)


def remote_for(url: str | None) -> RemoteCache | None:
    """The remote cache to use: `MODELZOO_REMOTE_CACHE` if set (empty: none), else `url`."""
    chosen = os.environ.get(REMOTE_ENV, url)
    return RemoteCache(chosen) if chosen else None
