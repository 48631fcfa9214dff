"""An Open Model Zoo model's download folder ($dl_dir), assembled in the cache.

Each file is fetched through the content-addressed download cache (keyed by the checksum the
model.yml gives, sha384 or sha256), copied to its `name` inside the folder, and the
`postprocessing` steps run there in order, as omz_downloader runs them:
- `unpack_archive`: the archive unpacks beside itself, through our safe unpacker (same path
  checks and size limits as any archive), and is removed;
- `regex_replace`: the pattern is replaced in the (UTF-8) file, at most `count` times (0: every
  match); no match at all, or fewer than `count`, is an error.
The folder is stored whole in the cache under a key of every file's checksum and the steps,
so it is built once, and appears atomically.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from ..cache import Cache
from ..errors import PipelineError
from ..keys import digest
from ..manifest import ModelEntry

KIND = "omz-downloads"


class PostprocessingError(PipelineError):
    """A postprocessing step of a model.yml could not be applied."""


def folder_key(entry: ModelEntry) -> str:
    return digest(KIND, entry.source_key)


def folder_path(cache: Cache, entry: ModelEntry) -> Path:
    return cache.tree_dir(KIND, folder_key(entry))


def download_folder(cache: Cache, entry: ModelEntry) -> Path:
    """The intact download folder of `entry`, assembled if absent or damaged."""
    return cache.store_tree(KIND, folder_key(entry), lambda staging: assemble(cache, entry, staging))


def fetch_files(cache: Cache, entry: ModelEntry) -> list[Path]:
    """Every file of the model in the download cache (fetched if missing); their paths."""
    from ..download import fetch

    return [fetch(file, None, None, cache) for file in entry.files]


def assemble(cache: Cache, entry: ModelEntry, folder: Path) -> None:
    for file, cached in zip(entry.files, fetch_files(cache, entry)):
        target = folder / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target)
    for index, step in enumerate(entry.postprocessing):
        where = f"{entry.label}: postprocessing #{index} ({step['$type']} {step['file']})"
        path = folder / step["file"]
        if not path.is_file():
            raise PostprocessingError(f"{where}: no such file in the download folder; check "
                                      "`file` against the model's `files` and earlier steps")
        if step["$type"] == "unpack_archive":
            unpack_step(entry, path, step["format"])
        else:
            regex_step(path, step, where)


def unpack_step(entry: ModelEntry, archive: Path, archive_format: str) -> None:
    from ..unpack import extract_archive

    extract_archive(archive, archive.parent, archive_format, max_bytes=entry.max_unpacked_bytes,
                    max_files=entry.max_unpacked_files, label=entry.label)
    archive.unlink()


def regex_step(path: Path, step, where: str) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PostprocessingError(f"{where}: the file is not UTF-8 text") from None
    replaced, count = re.subn(step["pattern"], step["replacement"], text, count=step["count"])
    if count == 0:
        raise PostprocessingError(f"{where}: the pattern {step['pattern']!r} matches nothing; "
                                  "the file is not the one the model.yml expects")
    if step["count"] and count != step["count"]:
        raise PostprocessingError(f"{where}: expected {step['count']} match(es) of "
                                  f"{step['pattern']!r}, found {count}")
    path.write_text(replaced, encoding="utf-8")
