"""Unpacking a downloaded file into the cache, safely and atomically.

Archives (tar, tar.gz/tgz, tar.bz2, tar.xz, zip) are recognized by their content; a file that is
not an archive (a bare .onnx or .pb) is placed alone in the tree. tar members pass through
tarfile's 'data' filter (no absolute paths, no `..`, no links leaving the tree, no device files),
zip members get the same path checks, and limits on the total size and the number of files stop
decompression bombs. The tree is built in a staging folder and renamed in, so a corrupt or
unsafe archive leaves nothing in the cache.
"""
from __future__ import annotations

import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .cache import Cache, Checksum
from .errors import ArchiveError

MAX_TOTAL_BYTES = 16 * 1024 ** 3
MAX_FILES = 100_000
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# NotImplementedError: zipfile meeting a compression method it does not know
_CORRUPT = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError,
            NotImplementedError)


def unpack(archive_path: str | Path, checksum: Checksum | tuple[str, str], cache: Cache, *,
           max_bytes: int = MAX_TOTAL_BYTES, max_files: int = MAX_FILES,
           label: str | None = None) -> Path:
    """Return the cache folder holding the unpacked content of `archive_path`.

    `checksum` is the archive's (the folder is keyed by it). `label` prefixes error messages,
    e.g. `ModelEntry.label`, so they name the manifest and the model.
    """
    archive = Path(archive_path)
    where = f"{label}, file {archive}" if label else str(archive)
    found = cache.lookup_unpacked(checksum)
    if found is not None:
        return found
    limits = _Limits(max_bytes, max_files, where)
    return cache.store_unpacked(checksum, lambda staging: _extract(archive, staging, limits, where))


# shutil.unpack_archive's format names (what Open Model Zoo's model.yml files use) -> extractor.
ARCHIVE_FORMATS = {"zip": "zip", "tar": "tar", "gztar": "tar", "bztar": "tar", "xztar": "tar"}


def extract_archive(archive: str | Path, target: str | Path, archive_format: str, *,
                    max_bytes: int = MAX_TOTAL_BYTES, max_files: int = MAX_FILES,
                    label: str | None = None) -> None:
    """Unpack `archive` into the existing folder `target` with the same safety checks and
    limits as `unpack` (for archives that are steps of a larger download folder)."""
    archive = Path(archive)
    where = f"{label}, file {archive.name}" if label else str(archive)
    if archive_format not in ARCHIVE_FORMATS:
        raise ArchiveError(f"{where}: unknown archive format {archive_format!r}; expected one "
                           f"of {', '.join(ARCHIVE_FORMATS)}")
    if detect_kind(archive) != ARCHIVE_FORMATS[archive_format]:
        raise ArchiveError(f"{where}: is not a {archive_format} archive")
    _extract(archive, Path(target), _Limits(max_bytes, max_files, where), where)


def detect_kind(path: Path) -> str:
    """'zip', 'tar' or 'file', from the first bytes; a name ending like an archive must match."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_COMPRESSED_MAGIC) or head[257:262] == b"ustar":
        return "tar"
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"  # zipfile reports what is wrong with it
    if name.endswith(_ARCHIVE_SUFFIXES):
        return "tar"  # an old-style tar without the ustar mark, or a corrupt one
    return "file"


def _extract(archive: Path, staging: Path, limits: "_Limits", where: str) -> None:
    try:
        kind = detect_kind(archive)
        if kind == "zip":
            _extract_zip(archive, staging, limits, where)
        elif kind == "tar":
            _extract_tar(archive, staging, limits, where)
        else:
            limits.add(where, archive.stat().st_size)
            shutil.copyfile(archive, staging / archive.name)
    except ArchiveError:
        raise
    except FileNotFoundError:
        raise ArchiveError(f"{where}: the file is missing; fetch it again") from None
    except OSError as exc:
        if exc.errno is None:  # gzip and bz2 report bad data as OSError without an errno
            raise _corrupt(where, exc) from None
        raise ArchiveError(f"{where}: cannot unpack into the cache ({exc}); check the disk "
                           "space and permissions of the cache folder") from None
    except _CORRUPT as exc:
        raise _corrupt(where, exc) from None


def _corrupt(where: str, exc: BaseException) -> ArchiveError:
    return ArchiveError(f"{where}: the archive is corrupt or truncated ({exc}); delete it from "
                        "the cache and download it again, or check the url")


class _Limits:
    """Running totals checked against the configured maximums."""

    def __init__(self, max_bytes: int, max_files: int, where: str) -> None:
        self.max_bytes, self.max_files, self.where = max_bytes, max_files, where
        self.bytes = self.files = 0

    def add(self, member: str, size: int) -> None:
        self.files += 1
        self.bytes += size
        if self.files > self.max_files:
            raise ArchiveError(f"{self.where}: more than {self.max_files} files; this looks like a "
                               "decompression bomb (raise max_files if the archive is genuine)")
        self.check_bytes(member)

    def check_bytes(self, member: str) -> None:
        if self.bytes > self.max_bytes:
            raise ArchiveError(f"{self.where}: unpacking {member} goes past {self.max_bytes} bytes "
                               "in all; this looks like a decompression bomb (raise max_bytes if "
                               "the archive is genuine)")


def _extract_tar(archive: Path, staging: Path, limits: _Limits, where: str) -> None:
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()  # reads the whole archive: truncation shows up here
        _drain(tar)
        for member in members:
            _check_tar_member(member, staging, where)
            limits.add(member.name, member.size if member.isfile() else 0)
        tar.extractall(staging, members=members, filter="data")


def _drain(tar: tarfile.TarFile) -> None:
    """Read to the end, so gzip, bz2 and xz check their CRC (tar itself checks no content)."""
    while tar.fileobj is not None and tar.fileobj.read(1 << 20):
        pass


def _check_tar_member(member: tarfile.TarInfo, staging: Path, where: str) -> None:
    try:
        tarfile.data_filter(member, str(staging))
    except tarfile.FilterError as exc:
        raise ArchiveError(f"{where}: unsafe member {member.name!r} ({exc}); refusing to unpack "
                           "this archive, get it from a trusted source") from None
    if member.name.startswith(("/", "\\")):  # the data filter would strip the slash; refuse
        raise ArchiveError(f"{where}: member {member.name!r} has an absolute path; refusing to "
                           "unpack this archive, get it from a trusted source")


def _extract_zip(archive: Path, staging: Path, limits: _Limits, where: str) -> None:
    with zipfile.ZipFile(archive) as zipped:
        infos = zipped.infolist()
        for info in infos:
            _zip_target(info, staging, where)
            limits.add(info.filename, info.file_size)
        limits.bytes = 0  # count again what really comes out, not what the headers claim
        for info in infos:
            target = _zip_target(info, staging, where)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_member(zipped, info, target, limits)


def _zip_target(info: zipfile.ZipInfo, staging: Path, where: str) -> Path:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    unsafe = (name.startswith("/") or ".." in path.parts or (len(name) > 1 and name[1] == ":"))
    if unsafe or not name.strip("/"):
        raise ArchiveError(f"{where}: unsafe member {info.filename!r} (absolute or with '..'); "
                           "refusing to unpack this archive, get it from a trusted source")
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip records no Unix type
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError(f"{where}: member {info.filename!r} is a link or special file, which "
                           "is not unpacked; repack the archive without it")
    return staging.joinpath(*[part for part in path.parts if part not in ("", ".")])


def _copy_member(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                 limits: _Limits) -> None:
    try:
        source = zipped.open(info)
    except RuntimeError as exc:  # encrypted entries
        raise ArchiveError(f"{limits.where}: cannot read member {info.filename!r} ({exc}); "
                           "repack the archive without encryption") from None
    with source, open(target, "wb") as sink:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            limits.bytes += len(chunk)
            limits.check_bytes(info.filename)
            sink.write(chunk)
    os.chmod(target, 0o644)
